#!/usr/bin/env node
// Browser tests of the gateway's website. Spawns the gateway (GATEWAY_BIN)
// with a loopback SMTP sink, drives Debian's chromium through playwright-core
// over the pages as a person would (sign up with the emailed code, sign in,
// create a subdomain, copy its configuration, manage keys), and connects a
// real @m-ld/m-ld clone with what the pages gave. Every test fails on a
// console error or a request to another origin. Screenshots go to
// SCREENSHOT_DIR (default <repo>/target/web-screenshots).
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clone as startClone, uuid } from '@m-ld/m-ld';
import { IoRemotes } from '@m-ld/m-ld/ext/socket.io';
import { MemoryLevel } from 'memory-level';
import { Gateway } from './lib/gateway.mjs';
import { SmtpSink } from './lib/smtp.mjs';
import { launch, openPage } from './lib/browser.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const bin = process.env.GATEWAY_BIN ?? resolve(here, '../../target/debug/meld-gateway');
const shots = process.env.SCREENSHOT_DIR ?? join(repo, 'target', 'web-screenshots');
const only = process.argv.slice(2);

const sleep = ms => new Promise(r => setTimeout(r, ms));
async function until(check, ms, what) {
  const t0 = Date.now();
  for (;;) {
    const r = await check();
    if (r) return r;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

const ACCOUNT = 'alice';
const EMAIL = 'alice@example.com';
const state = {}; // what earlier tests leave to later ones: key, …

let gateway, smtp, browser;

/** A watched page of the gateway; closing it fails on console errors. */
const open = opts => openPage(browser, gateway.origin, opts);

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Signs in on /account through the form. */
async function signIn(w, key = state.key) {
  await w.page.goto('/account');
  await w.page.getByLabel('Account name', { exact: true }).fill(ACCOUNT);
  await w.page.getByLabel('Account key', { exact: true }).fill(key);
  await w.page.getByRole('button', { name: 'Sign in' }).click();
  await dashboardReady(w.page);
}

/** The dashboard is up once its key list is filled in (after the details). */
async function dashboardReady(page) {
  await page.locator('#dashboard').waitFor();
  await page.locator('#keys tbody tr').first().waitFor();
}

const needKey = () => assert.ok(state.key, 'needs the key from the sign-up test');

const tests = [];
const test = (name, run, timeoutMs = 60000) => tests.push({ name, run, timeoutMs });

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY'
};

test('pages and assets send the security headers', async () => {
  for (const path of ['/', '/publicKey', '/signup', '/account',
    '/assets/site.css', '/assets/common.js', '/assets/signup.js', '/assets/account.js', '/assets/icon.svg']) {
    const res = await gateway.fetch(path);
    assert.equal(res.status, 200, path);
    for (const [h, v] of Object.entries(SECURITY_HEADERS))
      assert.equal(res.headers.get(h), v, `${path} ${h}`);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/, path);
    assert.match(csp, /script-src 'self'(;|$)/, path);
    assert.match(csp, /style-src 'self'(;|$)/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    const body = await res.text();
    if (res.headers.get('content-type').startsWith('text/html')) {
      assert.doesNotMatch(body, /<script(?![^>]*\ssrc=)[^>]*>/, `${path}: inline script`);
      assert.doesNotMatch(body, /<style|\sstyle=/, `${path}: inline style`);
      assert.doesNotMatch(body, /https?:\/\/(?!ex\.org|m-ld\.org)/, `${path}: another origin named`);
    }
  }
});

test('home page shows how to connect a clone to this gateway', async () => {
  const w = await open();
  try {
    const res = await w.page.goto('/');
    assert.equal(res.status(), 200);
    const snippet = await w.page.locator('#snippet').textContent();
    assert.match(snippet, /uri: 'https:\/\/ex\.org\/'/);
    assert.match(snippet, /'@domain': '<name>\.<account>\.ex\.org'/);
    assert.match(snippet, /IoRemotes/);
    for (const [name, href] of [['Sign up', '/signup'], ['Account', '/account'], ['Public key', '/publicKey']])
      assert.equal(await w.page.getByRole('navigation').getByRole('link', { name }).getAttribute('href'), href);
    await w.page.getByRole('button', { name: 'Copy snippet' }).click();
    assert.equal(await w.clipboard(), snippet);
    await shot(w.page, 'home');
  } finally {
    await w.close();
  }
});

test('public key page shows exactly GET /api/v1/publicKey and its fingerprint', async () => {
  const pem = await (await gateway.fetch('/api/v1/publicKey')).text();
  const w = await open();
  try {
    await w.page.goto('/publicKey');
    assert.equal(await w.page.locator('#pem').textContent(), pem);
    const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    const expected = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g).join(':');
    assert.equal(await w.page.locator('#fingerprint').textContent(), expected);
    await w.page.getByRole('button', { name: 'Copy PEM' }).click();
    assert.equal(await w.clipboard(), pem);
    await w.page.getByRole('button', { name: 'Copy fingerprint' }).click();
    assert.equal(await w.clipboard(), expected);
    await shot(w.page, 'public-key');
  } finally {
    await w.close();
  }
});

test('documentation: every page of doc/ rendered, its links resolving on this origin', async () => {
  const w = await open();
  try {
    const { page } = w;
    await page.goto('/');
    await page.getByRole('navigation').getByRole('link', { name: 'Docs' }).click();
    await page.waitForURL('**/docs');
    assert.equal(await page.locator('main h1').first().textContent(), 'meld-gateway documentation');
    const seen = new Set(), queue = ['/docs'];
    while (queue.length) {
      const path = queue.shift();
      if (seen.has(path)) continue;
      seen.add(path);
      const res = await page.goto(path);
      assert.equal(res.status(), 200, path);
      assert.match(res.headers()['content-security-policy'], /default-src 'none'/, path);
      const hrefs = await page.locator('main a[href^="/docs"]').evaluateAll(as => as.map(a => a.getAttribute('href')));
      for (const href of hrefs) {
        const [target, fragment] = href.split('#');
        if (fragment) {
          if (target !== path) await page.goto(target);
          assert.ok(await page.evaluate(id => !!document.getElementById(id), fragment), `${path} links to ${href}`);
          if (target !== path) await page.goto(path);
        }
        if (!target.startsWith('/docs/img/')) queue.push(target);
      }
    }
    for (const expected of ['/docs/getting-started', '/docs/http-api', '/docs/operator-guide', '/docs/security', '/docs/architecture'])
      assert.ok(seen.has(expected), `${expected} reachable from /docs (${[...seen]})`);
    await page.goto('/docs/operator-guide');
    await shot(page, 'docs-operator-guide');
  } finally {
    await w.close();
  }
});

test('sign-up: account and email, emailed code (a wrong one first), key shown once', async () => {
  const w = await open();
  // The wrong code's 401 is logged by the browser as a failed resource load
  w.allow(/Failed to load resource: the server responded with a status of 401/);
  try {
    const { page } = w;
    await page.goto('/signup');
    await shot(page, 'signup');
    // A bad account name is refused on the page, before any request
    await page.getByLabel('Account name', { exact: true }).fill('Not Valid');
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByRole('button', { name: 'Send me a code' }).click();
    assert.match(await page.locator('#error').textContent(), /lowercase letters/);
    const since = smtp.messages.length;
    await page.getByLabel('Account name', { exact: true }).fill(ACCOUNT);
    await page.getByRole('button', { name: 'Send me a code' }).click();
    await page.locator('#activate').waitFor();
    assert.ok(await page.locator('#error').isHidden());
    const mail = await smtp.next(EMAIL, { since });
    const code = /\b(\d{6})\b/.exec(mail.body)?.[1];
    assert.ok(code, `a six-digit code in the email: ${mail.body}`);

    const wrong = String((Number(code[0]) + 1) % 10) + code.slice(1);
    await page.getByLabel('Six-digit code').fill(wrong);
    await page.getByRole('button', { name: 'Activate' }).click();
    const error = page.locator('#error');
    await error.waitFor();
    const said = await error.textContent();
    assert.match(said, /incorrect\. Check the code in the email\./i);
    assert.doesNotMatch(said, /[{}"]/, 'an error is prose, not JSON');
    await shot(page, 'signup-error');

    await page.getByLabel('Six-digit code').fill(code);
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.locator('#done').waitFor();
    assert.ok(await error.isHidden(), 'the error went');
    const key = await page.locator('#key').textContent();
    assert.match(key, new RegExp(`^${gateway.rootAccount}\\.[a-p]+:[a-p]+$`));
    assert.match(await page.locator('#done').textContent(), /never the key in clear/);
    await page.getByRole('button', { name: 'Copy key' }).click();
    assert.equal(await w.clipboard(), key);
    assert.match(await page.locator('#done .copied').textContent(), /Copied/);
    await shot(page, 'signup-key');
    // Nothing of it was kept by the browser
    assert.deepEqual(await w.context.cookies(), []);
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);

    const res = await gateway.fetch(`/api/v1/user/${ACCOUNT}`, { auth: { account: ACCOUNT, key } });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).email, [EMAIL]);
    state.key = key;
    // Straight on to the account page, signed in with the new key
    await page.getByRole('button', { name: 'Sign in with this key' }).click();
    await dashboardReady(page);
    assert.equal(await page.locator('#who').textContent(), ACCOUNT);
  } finally {
    await w.close();
  }
});

test('sign-in keeps the key in sessionStorage only', async () => {
  needKey();
  const w = await open();
  w.allow(/Failed to load resource: the server responded with a status of 401/);
  try {
    const { page } = w;
    await page.goto('/account');
    await shot(page, 'signin');
    // A wrong key is refused with a readable message
    const wrongKey = state.key.replace(/:./, ':' + (state.key.split(':')[1][0] === 'a' ? 'b' : 'a'));
    await page.getByLabel('Account name', { exact: true }).fill(ACCOUNT);
    await page.getByLabel('Account key', { exact: true }).fill(wrongKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#error').waitFor();
    const said = await page.locator('#error').textContent();
    assert.match(said, /invalid credentials|check the account name and key/i);
    assert.doesNotMatch(said, /[{}"]/);

    await signIn(w);
    assert.equal(await page.locator('#who').textContent(), ACCOUNT);
    assert.ok(await page.locator('#error').isHidden(), `no error: ${await page.locator('#error').textContent()}`);
    const rows = page.locator('#keys tbody tr');
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().textContent(), /this session.*active/);
    const stored = await page.evaluate(() => ({
      session: Object.keys(sessionStorage).map(k => sessionStorage.getItem(k)).join(),
      local: localStorage.length, cookie: document.cookie
    }));
    assert.ok(stored.session.includes(state.key), 'the key is in sessionStorage');
    assert.equal(stored.local, 0);
    assert.equal(stored.cookie, '');
    assert.deepEqual(await w.context.cookies(), []);
    // A reload keeps the tab signed in
    await page.reload();
    await dashboardReady(page);
    await shot(page, 'account');
    // Signing out forgets it
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#signin').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  } finally {
    await w.close();
  }
});

test('named subdomain: create, copy its configuration, a real clone connects with it', async () => {
  needKey();
  const w = await open();
  let meld;
  try {
    const { page } = w;
    await signIn(w);
    await page.getByLabel('New subdomain name').fill('notes');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('#config-panel').waitFor();
    assert.match(await page.locator('#notice').textContent(), /notes is ready/);
    assert.equal(await page.locator('#subdomains li .name').allTextContents().then(t => t.join()), 'notes');
    await page.getByRole('button', { name: 'Copy configuration' }).click();
    const copied = JSON.parse(await w.clipboard());
    assert.equal(copied['@domain'], `notes.${ACCOUNT}.${gateway.domain}`);
    assert.equal(copied.io.uri, `https://${gateway.domain}/`);
    assert.equal(copied.io.opts.auth.user, ACCOUNT);
    assert.notEqual(copied.io.opts.auth.key, state.key, 'the key is not filled in unless asked');
    // Filled in with this tab's key on request
    await page.getByLabel("Fill in this session's key").check();
    await page.getByRole('button', { name: 'Copy configuration' }).click();
    const config = JSON.parse(await w.clipboard());
    assert.equal(config.io.opts.auth.key, state.key);
    await shot(page, 'account-subdomain');

    // The test gateway calls itself https://ex.org/; it listens here
    const cfg = { ...config, '@id': uuid(), logLevel: 'silent', io: { ...config.io, uri: gateway.origin } };
    meld = await startClone(new MemoryLevel(), IoRemotes, cfg);
    await Promise.race([meld.status.becomes({ online: true }), sleep(20000).then(() => {
      throw new Error('the clone did not come online');
    })]);
    await meld.write({ '@id': 'hello', message: 'written by a clone configured from the web page' });
    // The gateway's backup clone has it: read through the Clone API
    const q = encodeURIComponent(JSON.stringify({ '@describe': 'hello' }));
    await until(async () => {
      const res = await gateway.fetch(`/api/v1/domain/${ACCOUNT}/notes/state?q=${q}`,
        { auth: { account: ACCOUNT, key: state.key } });
      return res.ok && (await res.text()).includes('written by a clone');
    }, 15000, 'the write to reach the backup clone');
  } finally {
    await meld?.close().catch(() => {});
    await w.close();
  }
});

test('keys: add one, revoke it on the page, the API refuses it; rotate the session key', async () => {
  needKey();
  const w = await open();
  try {
    const { page } = w;
    await signIn(w);
    await page.getByRole('button', { name: 'New key' }).click();
    await page.locator('#fresh:not([hidden]), #error:not([hidden])').first().waitFor();
    assert.ok(await page.locator('#error').isHidden(), `no error: ${await page.locator('#error').textContent()}`);
    const second = await page.locator('#fresh-key').textContent();
    assert.match(second, /^[^.]+\.[a-p]+:[a-p]+$/);
    await page.locator('#fresh').getByRole('button', { name: 'Copy key' }).click();
    assert.equal(await w.clipboard(), second);
    await page.getByRole('button', { name: 'I have copied it' }).click();
    assert.ok(await page.locator('#fresh').isHidden());
    const auth2 = { account: ACCOUNT, key: second };
    assert.equal((await gateway.fetch(`/api/v1/user/${ACCOUNT}`, { auth: auth2 })).status, 200);

    const keyid = second.split(':')[0].split('.')[1];
    const row = page.locator(`#keys tr[data-keyid="${keyid}"]`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('#notice').filter({ hasText: `Key ${keyid} was revoked` }).waitFor();
    assert.match(w.dialogs.at(-1), new RegExp(`Revoke key ${keyid}`));
    assert.equal(await row.locator('.status-revoked').textContent(), 'revoked');
    assert.equal((await gateway.fetch(`/api/v1/user/${ACCOUNT}`, { auth: auth2 })).status, 401,
      'the revoked key is refused');
    assert.equal((await gateway.fetch(`/api/v1/user/${ACCOUNT}`, { auth: { account: ACCOUNT, key: state.key } })).status,
      200, 'the session key still works');

    // Rotating this session's key switches the tab to the replacement
    const mine = state.key.split(':')[0].split('.')[1];
    await page.locator(`#keys tr[data-keyid="${mine}"]`).getByRole('button', { name: 'Rotate' }).click();
    await page.locator('#fresh').waitFor();
    const rotated = await page.locator('#fresh-key').textContent();
    assert.match(await page.locator('#fresh-what').textContent(), /now uses the new key/);
    assert.match(await page.locator(`#keys tr[data-keyid="${mine}"]`).textContent(), /active until/);
    await shot(page, 'account-keys');
    await page.reload();
    await dashboardReady(page);
    assert.match(await page.locator('#keys').textContent(), new RegExp(`${rotated.split(':')[0].split('.')[1]}this session`));
    assert.equal((await gateway.fetch(`/api/v1/user/${ACCOUNT}`, { auth: { account: ACCOUNT, key: rotated } })).status, 200);
    state.key = rotated;
  } finally {
    await w.close();
  }
});

test('settings and email: naming and remotesAuth patched, email removed', async () => {
  needKey();
  const w = await open();
  try {
    const { page } = w;
    await signIn(w);
    assert.ok(await page.getByLabel(/Account name and key/).isChecked(), 'key auth is the default');
    await page.getByLabel(/Also let anyone request/).check();
    await page.getByLabel(/Short-lived tokens/).check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.locator('#notice').filter({ hasText: 'Settings saved' }).waitFor();
    const auth = { account: ACCOUNT, key: state.key };
    let details = await (await gateway.fetch(`/api/v1/user/${ACCOUNT}`, { auth })).json();
    assert.deepEqual(details.naming, ['uuid']);
    assert.deepEqual([...details.remotesAuth].sort(), ['jwt', 'key']);
    // No way for clones to authenticate is refused on the page
    for (const label of [/Account name and key/, /Short-lived tokens/]) await page.getByLabel(label).uncheck();
    await page.getByRole('button', { name: 'Save settings' }).click();
    assert.match(await page.locator('#error').textContent(), /at least one/);
    await page.getByLabel(/Account name and key/).check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.locator('#notice').filter({ hasText: 'Settings saved' }).waitFor();
    details = await (await gateway.fetch(`/api/v1/user/${ACCOUNT}`, { auth })).json();
    assert.deepEqual(details.remotesAuth, ['key']);

    await page.locator('#emails li').filter({ hasText: EMAIL }).getByRole('button', { name: 'Remove' }).click();
    await page.locator('#no-emails').waitFor();
    details = await (await gateway.fetch(`/api/v1/user/${ACCOUNT}`, { auth })).json();
    assert.deepEqual(details.email, []);
  } finally {
    await w.close();
  }
});

test('narrow screen: no page scrolls sideways', async () => {
  needKey();
  const w = await open({ viewport: { width: 360, height: 740 } });
  try {
    const { page } = w;
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    for (const [path, name] of [['/', 'home-narrow'], ['/signup', 'signup-narrow'], ['/publicKey', 'public-key-narrow']]) {
      await page.goto(path);
      assert.ok(await fits(), `${path} fits 360 px`);
      await shot(page, name);
    }
    await signIn(w);
    assert.ok(await fits(), '/account fits 360 px');
    await shot(page, 'account-narrow');
  } finally {
    await w.close();
  }
});

test('delete the account, with confirmation', async () => {
  needKey();
  const w = await open();
  try {
    const { page } = w;
    await signIn(w);
    await page.getByLabel('Type the account name to confirm').fill('alicex');
    await page.getByRole('button', { name: 'Delete this account' }).click();
    assert.match(await page.locator('#error').textContent(), /Type alice to confirm/);
    assert.equal(w.dialogs.length, 0);
    await page.getByLabel('Type the account name to confirm').fill(ACCOUNT);
    await page.getByRole('button', { name: 'Delete this account' }).click();
    await page.locator('#notice').filter({ hasText: `Account ${ACCOUNT} was deleted` }).waitFor();
    assert.match(w.dialogs.at(-1), /cannot be undone/);
    assert.ok(await page.locator('#signin').isVisible());
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    const res = await gateway.fetch(`/api/v1/user/${ACCOUNT}`, { auth: { account: ACCOUNT, key: state.key } });
    assert.equal(res.status, 401);
  } finally {
    await w.close();
  }
});

async function main() {
  await mkdir(shots, { recursive: true });
  smtp = new SmtpSink();
  gateway = new Gateway({ bin, smtpPort: await smtp.listen() });
  await gateway.start();
  console.log(`# gateway ${bin} at ${gateway.origin}; screenshots in ${shots}`);
  browser = await launch();
  let passed = 0, failed = 0;
  try {
    for (const t of tests) {
      if (only.length && !only.some(o => t.name.includes(o))) continue;
      const t0 = Date.now();
      let timer;
      try {
        await Promise.race([t.run(), new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${t.timeoutMs} ms`)), t.timeoutMs);
        })]);
        console.log(`ok ${t.name} (${Date.now() - t0} ms)`);
        passed++;
      } catch (e) {
        console.log(`FAIL ${t.name}: ${e.message}`);
        if (process.env.WEB_TEST_VERBOSE) console.error(e);
        failed++;
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    await browser.close();
    const exit = await gateway.stop();
    await smtp.close();
    if (failed) {
      console.log(`--- gateway log tail (${gateway.logPath}) ---\n${await gateway.logTail()}\n---`);
    } else {
      await gateway.remove();
    }
    if (exit.code !== 0 && !exit.signal) console.log(`# gateway exit: ${JSON.stringify(exit)}`);
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then(code => process.exit(code), e => {
  console.error(e);
  process.exit(2);
});
