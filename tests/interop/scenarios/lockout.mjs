// Brute-force protection, on a gateway of its own with a low threshold:
// after 3 failed authentications from one IP for one account, that pair is
// refused (HTTP 429 with Retry-After, socket connect_error) even with the
// right key; the same account from another IP (127.0.0.2) is unaffected;
// after the lockout the right key works again.
import { request as httpRequest } from 'node:http';
import { ownGateway } from '../lib/gateway.mjs';
import { basic } from '../lib/http.mjs';
import { handshake } from '../lib/sockets.mjs';

export const name = 'lockout';
export const timeoutMs = 60000;

/** An HTTP request from a chosen local address */
function from(localAddress, port, method, path, auth) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, localAddress,
      headers: auth ? { authorization: basic(auth) } : {} }, res => {
      let text = '';
      res.on('data', d => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('starts a gateway of its own from the binary');
  const gw = await ownGateway(ctx.gateway.bin, {
    root: 'lockroot', env: { M_LD_GATEWAY_AUTH__LOCKOUT_FAILURES: '3', M_LD_GATEWAY_AUTH__LOCKOUT_SECS: '2' }
  });
  const { port, rootKey } = gw;
  try {
    const root = { user: 'lockroot', key: rootKey };
    await ctx.pollUntil(() => from('127.0.0.1', port, 'GET', '/healthz').then(r => r.status === 200, () => false),
      { timeout: 10000, what: 'the lockout gateway up' });
    const made = await from('127.0.0.1', port, 'POST', '/api/v1/user/victim/key', root);
    assert.equal(made.status, 200, made.text);
    const good = { user: 'victim', key: JSON.parse(made.text).auth.key };
    const bad = { user: 'victim', key: good.key.slice(0, -4) + 'aaaa' };
    const put = (addr, auth) => from(addr, port, 'PUT', '/api/v1/domain/victim/sd', auth);

    assert.equal((await put('127.0.0.1', good)).status, 200, 'the right key works');
    for (let i = 0; i < 3; i++)
      assert.equal((await put('127.0.0.1', bad)).status, 401, `failure ${i + 1}`);
    const locked = await put('127.0.0.1', good);
    assert.equal(locked.status, 429, `locked out even with the right key: ${locked.text}`);
    assert.ok(Number(locked.headers['retry-after']) >= 1, `Retry-After: ${locked.headers['retry-after']}`);
    assert.match(JSON.parse(locked.text).message, /too many failed attempts/);
    // The socket handshake from that IP is refused too, saying why
    const origin = `http://127.0.0.1:${port}`;
    const r = await handshake(origin, { query: { '@id': ctx.uuid(), '@domain': 'sd.victim.ex.org' }, auth: good });
    assert.equal(r.outcome, 'connect_error', ctx.verdict(r));
    assert.match(r.error.message, /too many failed attempts/);
    // Another IP, same account: unaffected (the attacker cannot lock the owner out)
    assert.equal((await put('127.0.0.2', good)).status, 200, 'another IP is not locked out');
    // Another account from the locked IP: unaffected
    assert.equal((await from('127.0.0.1', port, 'POST', '/api/v1/user/other/key', root)).status, 200);
    // After the lockout, the right key works again
    await ctx.sleep(2200);
    assert.equal((await put('127.0.0.1', good)).status, 200, 'works after the lockout');
    const text = await gw.log();
    assert.match(text, /lockout started/);
    assert.match(text, /lockout ended/);
    assert.match(text, /refused: locked out/);
    assert.ok(!text.includes(good.key.split(':')[1]), 'no secret in the log');
  } finally {
    await gw.stop();
  }
}
