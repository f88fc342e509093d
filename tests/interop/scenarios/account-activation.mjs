// Email activation through the embedded outbox (no SMTP configured): the
// code arrives as an .eml file in <data>/outbox; wrong codes count and void
// the activation; a code works once; bad requests create nothing; a removed
// email can no longer activate the account.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
export const name = 'account-activation';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('reads the outbox of a gateway spawned by run.mjs');
  const outbox = join(ctx.gateway.dataPath, 'outbox');
  const seen = new Set();
  /** The code in the next new message to `email` */
  const nextCode = email => ctx.pollUntil(async () => {
    for (const f of (await readdir(outbox).catch(() => [])).sort()) {
      if (seen.has(f))
        continue;
      const text = await readFile(join(outbox, f), 'utf8');
      if (!text.includes(`To: ${email}`))
        continue;
      seen.add(f);
      const codes = text.split(/\r?\n\r?\n/).slice(1).join('\n').match(/\b\d{6}\b/g) ?? [];
      assert.equal(codes.length, 1, `one code in ${f}: ${text}`);
      return codes[0];
    }
  }, { timeout: 10000, what: `activation email to ${email}` });
  const account = ctx.freshName('act');
  const email = `${account}@example.com`;
  const activate = async () => {
    const r = ctx.expect(await ctx.http('POST', `/api/v1/user/${account}/activation`, { body: { email } }), 200);
    return { jwe: r.json.jwe, code: await nextCode(email) };
  };
  const redeem = (jwe, code, acc = account) => ctx.http('POST', `/api/v1/user/${acc}/key`,
    { auth: jwe == null ? undefined : `Bearer ${jwe}`, headers: { 'x-activation-code': code } });
  const exists = async () => (await ctx.http('GET', `/api/v1/user/${account}`, { auth: ctx.root })).status === 200;

  // Bad requests: 4xx, nothing created
  for (const [body, what] of [[undefined, 'no body'], ['{', 'malformed JSON'], [{}, 'no email'],
    [{ email: 'not-an-email' }, 'bad email'], [{ email: 42 }, 'email not a string'],
    [{ email, extra: 1 }, 'unknown property']]) {
    const r = await ctx.http('POST', `/api/v1/user/${account}/activation`, { body });
    assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.what}`);
  }
  const badName = await ctx.http('POST', '/api/v1/user/Bad%20Name/activation', { body: { email } });
  assert.ok(badName.status >= 400 && badName.status < 500, badName.what);
  assert.equal(await exists(), false);

  // Wrong codes are refused (4xx, never 5xx) and void the activation after five
  const first = await activate();
  const wrong = first.code === '123456' ? '654321' : '123456';
  for (let i = 0; i < 4; i++)
    ctx.expect(await redeem(first.jwe, wrong), 401);
  ctx.expect(await redeem(first.jwe, first.code, ctx.freshName('other')), 401);  // fifth failure
  ctx.expect(await redeem(first.jwe, first.code), 401);                           // now void
  ctx.expect(await redeem(null, first.code), 401);
  ctx.expect(await redeem('garbage', first.code), 401);
  ctx.expect(await ctx.http('POST', `/api/v1/user/${account}/key`,
    { auth: { user: account, key: 'x' }, headers: { 'x-activation-code': first.code } }), 401);
  assert.equal(await exists(), false, 'no account from refused activations');

  // The right code gives a working key, once
  const second = await activate();
  const key = ctx.expect(await redeem(second.jwe, second.code), 200).json.auth.key;
  ctx.expect(await redeem(second.jwe, second.code), 401);
  const acc = { name: account, key, auth: { user: account, key } };
  const details = ctx.expect(await ctx.http('GET', `/api/v1/user/${account}`, { auth: acc.auth }), 200).json;
  assert.deepEqual(details.email, [email]);
  await ctx.putSubdomain(acc, 'mine');

  // Another email cannot activate the account; after removing the email, neither can it
  const intruder = await ctx.http('POST', `/api/v1/user/${account}/activation`,
    { body: { email: `intruder-${account}@example.com` } });
  assert.ok(intruder.status >= 400 && intruder.status < 500, intruder.what);
  await ctx.patchAccount(acc, { '@delete': { email } });
  const removed = await ctx.http('POST', `/api/v1/user/${account}/activation`, { body: { email } });
  assert.ok(removed.status >= 400 && removed.status < 500, removed.what);

  // Codes and tokens never reach the log
  const log = await ctx.gatewayLog();
  for (const secret of [first.jwe, second.jwe, key.split(':')[1]])
    assert.ok(!log.includes(secret), `the log must not contain ${secret}`);
  // (timestamps carry 6-digit fractions after a '.', which are not codes)
  for (const code of [first.code, second.code])
    assert.ok(!new RegExp(`(?<![.\\d])${code}(?!\\d)`).test(log), `the log must not contain code ${code}`);
}
