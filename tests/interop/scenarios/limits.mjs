// Limits against exhaustion over HTTP, on a gateway of its own with low
// ones: open connections per IP (the next one is closed at once, another IP
// is served), requests per IP without credentials (429 with Retry-After,
// another IP and credentialed requests unaffected), activation mails per IP
// and per address (429, no mail sent), named subdomains per account (409,
// nothing stored) and the size of one Clone API write (413, nothing
// written). Each refusal is counted in the metrics.
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ownGateway } from '../lib/gateway.mjs';
import { TestContext } from '../lib/context.mjs';
import { basic } from '../lib/http.mjs';
import { StateApi } from '../lib/cloneapi.mjs';

export const name = 'limits';
export const timeoutMs = 60000;

/** An HTTP request from a chosen local address, on a connection of its own */
function from(localAddress, port, method, path, { auth, body } = {}) {
  return new Promise((resolve, reject) => {
    const headers = auth ? { authorization: basic(auth) } : {};
    if (body !== undefined)
      headers['content-type'] = 'application/json';
    const req = httpRequest({ host: '127.0.0.1', port, method, path, localAddress, headers, agent: false }, res => {
      let text = '';
      res.on('data', d => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A TCP connection from `localAddress`, open (resolves once connected) */
function tcp(localAddress, port) {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.on('error', reject);
  });
}

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('starts a gateway of its own from the binary');
  const gw = await ownGateway(ctx.gateway.bin, {
    root: 'limroot',
    env: {
      M_LD_GATEWAY_LIMITS__CONNECTIONS_PER_IP: '8',
      M_LD_GATEWAY_LIMITS__ANON_REQUESTS_PER_SEC: '1',
      M_LD_GATEWAY_LIMITS__ANON_REQUEST_BURST: '10',
      M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_IP: '2',
      M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_EMAIL: '2',
      M_LD_GATEWAY_LIMITS__SUBDOMAINS_PER_ACCOUNT: '2',
      M_LD_GATEWAY_CLONE_API__MAX_WRITE_BYTES: '4096'
    }
  });
  const { port } = gw;
  const root = { user: 'limroot', key: gw.rootKey };
  const own = new TestContext({
    origin: `http://127.0.0.1:${port}`, domain: 'ex.org', root, verbose: ctx.verbose, name: ctx.name
  });
  const held = [];
  try {
    await ctx.pollUntil(() => from('127.0.0.1', port, 'GET', '/healthz').then(r => r.status === 200, () => false),
      { timeout: 10000, what: 'the limits gateway up' });

    // Connections per IP: 8 open from 127.0.0.7, the 9th is closed at once
    for (let i = 0; i < 8; i++)
      held.push(await tcp('127.0.0.7', port));
    const ninth = await from('127.0.0.7', port, 'GET', '/healthz').then(r => `answered ${r.status}`, e => e.code);
    assert.match(String(ninth), /ECONNRESET|EPIPE|socket hang up/i, `the 9th connection from one IP: ${ninth}`);
    assert.equal((await from('127.0.0.8', port, 'GET', '/healthz')).status, 200, 'another IP is served');
    held.splice(0).forEach(s => s.destroy());
    await ctx.pollUntil(() => from('127.0.0.7', port, 'GET', '/healthz').then(r => r.status === 200, () => false),
      { timeout: 5000, what: '127.0.0.7 served again once its connections closed' });

    // Requests per IP without credentials: a burst of 10, then 429
    const statuses = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await from('127.0.0.3', port, 'GET', '/api/v1/context')).status);
    assert.deepEqual(statuses, Array(10).fill(200), 'the burst is served');
    const limited = await from('127.0.0.3', port, 'GET', '/api/v1/context');
    assert.equal(limited.status, 429, `past the burst: ${limited.text}`);
    assert.ok(Number(limited.headers['retry-after']) >= 1, `Retry-After: ${limited.headers['retry-after']}`);
    assert.match(JSON.parse(limited.text).message, /too many requests/);
    assert.equal((await from('127.0.0.4', port, 'GET', '/api/v1/context')).status, 200, 'another IP is served');
    assert.equal((await from('127.0.0.3', port, 'GET', '/api/v1/user/limroot', { auth: root })).status, 200,
      'requests with credentials have their own, higher rate');

    // Activation mails: 2 per IP, 2 per address
    const outbox = join(gw.dataPath, 'outbox');
    const mailsTo = async email => {
      let n = 0;
      for (const f of await readdir(outbox).catch(() => []))
        n += (await readFile(join(outbox, f), 'utf8')).includes(`To: ${email}`) ? 1 : 0;
      return n;
    };
    const activate = (ip, account, email) =>
      from(ip, port, 'POST', `/api/v1/user/${account}/activation`, { body: { email } });
    const [x, y, z] = ['x', 'y', 'z'].map(p => ctx.freshName(`act${p}`));
    const mail = a => `${a}@example.com`;
    assert.equal((await activate('127.0.0.5', x, mail(x))).status, 200);
    assert.equal((await activate('127.0.0.5', y, mail(y))).status, 200);
    const perIp = await activate('127.0.0.5', z, mail(z));
    assert.equal(perIp.status, 429, `a third activation from one IP: ${perIp.text}`);
    assert.ok(Number(perIp.headers['retry-after']) >= 1);
    assert.equal(await mailsTo(mail(z)), 0, 'no mail sent when refused');
    assert.equal((await activate('127.0.0.6', x, mail(x))).status, 200, 'the address again, from another IP');
    const perEmail = await activate('127.0.0.9', x, mail(x));
    assert.equal(perEmail.status, 429, `a third mail to one address: ${perEmail.text}`);
    assert.equal(await mailsTo(mail(x)), 2, 'two mails to the address, not three');

    // Named subdomains per account: 2
    const acc = await own.createAccount('quota');
    await own.putSubdomain(acc, 'sd1');
    await own.putSubdomain(acc, 'sd2');
    const third = await own.http('PUT', own.subdomainPath(acc, 'sd3'), { auth: acc.auth });
    assert.equal(third.status, 409, `a third subdomain: ${third.text}`);
    assert.match(third.json.message, /2 named subdomains, the most allowed/);
    const listed = own.expect(await own.http('GET', `/api/v1/user/${acc.name}`, { auth: root }), 200).json;
    assert.deepEqual(listed.subdomain, ['sd1', 'sd2'], 'nothing stored for the refused one');
    await own.putSubdomain(acc, 'sd1'); // an existing one still answers

    // One Clone API write: at most 4 KiB
    const api = new StateApi(own, acc, 'sd1');
    const big = await api.post({ '@id': 'big', text: 'x'.repeat(5000) });
    assert.equal(big.status, 413, `an oversized write: ${big.text}`);
    own.expect(await api.post({ '@id': 'small', n: 1 }), 200, 204);
    assert.deepEqual(await api.read({ '@describe': 'big' }), [], 'nothing of the oversized write');
    assert.equal((await api.read({ '@describe': 'small' }))[0]?.n, 1, 'a write within the limit works');

    const metrics = own.expect(await own.http('GET', '/metrics', { auth: root }), 200).text;
    for (const re of [/meld_gateway_connections_refused_total\{limit="per_ip"\} [1-9]/,
      /meld_gateway_http_rate_limited_total\{limit="anonymous"\} [1-9]/,
      /meld_gateway_http_rate_limited_total\{limit="activations_per_ip"\} 1\b/,
      /meld_gateway_http_rate_limited_total\{limit="activations_per_email"\} 1\b/])
      assert.match(metrics, re);
    const log = await gw.log();
    assert.match(log, /connection refused: too many open connections/);
    assert.match(log, /request refused: rate limit/);
    assert.match(log, /subdomain refused/);
  } finally {
    held.forEach(s => s.destroy());
    await own.cleanup();
    await gw.stop();
  }
}
