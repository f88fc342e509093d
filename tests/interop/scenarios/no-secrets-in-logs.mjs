// Secrets never reach the logs: a gateway of its own at LOG_LEVEL=trace goes
// through activation, key minting (with RSA), JWT configs, a token-
// authenticated clone, Basic-auth requests and refusals; then neither its
// log nor audit.log holds a key secret, token, activation token or code,
// and audit.log holds one JSON object per line for the security events.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ownGateway } from '../lib/gateway.mjs';
import { request } from '../lib/http.mjs';

export const name = 'no-secrets-in-logs';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('starts a gateway of its own from the binary');
  const gw = await ownGateway(ctx.gateway.bin, { root: 'sroot', env: { LOG_LEVEL: 'trace' } });
  const { port, rootKey, dataPath: data } = gw;
  const origin = `http://127.0.0.1:${port}`;
  const http = (method, path, opts) => request(origin, method, path, opts);
  const secrets = [rootKey.split(':')[1]];
  let code;
  try {
    await ctx.pollUntil(() => http('GET', '/healthz').then(r => r.status === 200, () => false),
      { timeout: 10000, what: 'the gateway up' });
    // Activation through the outbox
    const email = 'owner@example.com';
    const { jwe } = (await http('POST', '/api/v1/user/owner/activation', { body: { email } })).json;
    const mail = await ctx.pollUntil(async () => {
      const files = await readdir(join(data, 'outbox')).catch(() => []);
      return files.length && readFile(join(data, 'outbox', files[0]), 'utf8');
    }, { timeout: 10000, what: 'the activation email' });
    code = mail.split(/\r?\n\r?\n/).slice(1).join('\n').match(/\b\d{6}\b/)[0];
    await http('POST', '/api/v1/user/owner/key', { auth: `Bearer ${jwe}`, headers: { 'x-activation-code': '000000' } });
    const key = (await http('POST', '/api/v1/user/owner/key',
      { auth: `Bearer ${jwe}`, headers: { 'x-activation-code': code } })).json.auth.key;
    const auth = { user: 'owner', key };
    const rsa = (await http('POST', '/api/v1/user/owner/key?type=rsa', { auth })).json;
    secrets.push(jwe, key.split(':')[1], rsa.auth.key.split(':')[1], rsa.key.private);
    // JWT remotes auth and a clone using the token
    await http('PATCH', '/api/v1/user/owner', { auth, body: { '@insert': { remotesAuth: 'jwt' } } });
    const config = (await http('PUT', '/api/v1/domain/owner/notes', { auth })).json;
    const jwt = config.io.opts.auth.jwt;
    secrets.push(jwt, jwt.split('.')[2]);
    await http('GET', '/api/v1/domain/owner/notes/state?q=%7B%22%40describe%22%3A%22x%22%7D', { auth: `Bearer ${jwt}` });
    await http('PUT', '/api/v1/domain/owner/notes', { auth: { user: 'owner', key: key.slice(0, -3) + 'abc' } });
    const r = await ctx.socket({ domain: 'notes.owner.ex.org', auth: { jwt } });
    r.socket?.close();
    await ctx.sleep(300);
  } finally {
    await gw.stop();
  }
  const gatewayLog = await gw.log();
  const audit = await readFile(join(data, 'audit.log'), 'utf8');
  assert.ok(gatewayLog.includes('TRACE') || gatewayLog.includes('DEBUG'), 'the gateway logged verbosely');
  for (const [what, text] of [['gateway log', gatewayLog], ['audit.log', audit]]) {
    for (const secret of secrets)
      assert.ok(!text.includes(secret), `${what} contains a secret (${secret.slice(0, 6)}…)`);
    // (timestamps carry 6-digit fractions after a '.', which are not codes)
    assert.ok(!new RegExp(`(?<![.\\d])${code}(?!\\d)`).test(text), `${what} contains the activation code`);
  }
  // Audit: one JSON object per line, with the events that happened
  const events = audit.trim().split('\n').map(l => JSON.parse(l));
  const messages = events.map(e => e.fields?.message);
  for (const m of ['key minted by email activation', 'key minted', 'account details changed', 'subdomain created', 'access refused', 'activation refused'])
    assert.ok(messages.includes(m), `audit.log records "${m}": ${JSON.stringify(messages)}`);
  assert.ok(events.every(e => e.target === 'audit'), 'only audit events');
}
