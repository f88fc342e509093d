// remotesAuth "jwt": PUT of a named subdomain answers a config carrying a
// fresh token; a real clone connects with it; tampered, expired, foreign or
// revoked-key tokens are refused. Tokens work as Bearer on the Clone API but
// cannot manage the account.
import { createHash, createPrivateKey, sign } from 'node:crypto';
export const name = 'account-jwt';
export const timeoutMs = 90000;

const b64url = x => Buffer.from(x).toString('base64url');

/** A token as the gateway mints it, from the key's secret (to forge expiry) */
function mintLike(key, claims) {
  const [, rest] = key.split('.');
  const [kid, secret] = rest.split(':');
  const seed = createHash('sha256')
    .update(Buffer.from('meld-gateway/jwt-signing-key/v1\0')).update(secret).digest();
  const priv = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der', type: 'pkcs8'
  });
  const signing = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'EdDSA', kid }))}.${b64url(JSON.stringify(claims))}`;
  return `${signing}.${b64url(sign(null, Buffer.from(signing), priv))}`;
}

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.createAccount('jwt');
  await ctx.patchAccount(acc, { '@insert': { remotesAuth: 'jwt' } });
  const sd = 'shared';
  const put = ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, sd),
    { auth: acc.auth, body: { user: { '@id': 'http://app.example/alice' } } }), 200);
  const config = put.json;
  const jwt = config.io?.opts?.auth?.jwt;
  assert.equal(typeof jwt, 'string', `config carries a token: ${put.text}`);
  assert.ok(!put.text.includes(acc.key.split(':')[1]), 'no secret in the config');
  const [, payload] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  assert.equal(claims.iss, `http://${ctx.domain}/${acc.name}`);
  assert.equal(claims.sub, 'http://app.example/alice');
  assert.ok(claims.exp * 1000 - Date.now() <= 600000 && claims.exp * 1000 > Date.now(), 'valid for 10 minutes');
  const domain = config['@domain'];

  // A real clone connects with the config as given, and its data reaches the backup
  const a = await ctx.clone(config);
  await a.write({ '@id': 'note', text: 'via jwt' });
  const bearer = `Bearer ${jwt}`;
  await ctx.pollUntil(async () => {
    const r = await ctx.http('GET', `${ctx.subdomainPath(acc, sd)}/state?q=${encodeURIComponent(JSON.stringify({ '@describe': 'note' }))}`,
      { auth: bearer });
    return r.status === 200 && r.text.includes('via jwt');
  }, { timeout: 10000, what: 'Clone API read with the token sees the write' });

  // Refusals at the handshake
  const good = await ctx.socket({ domain, auth: { jwt } });
  assert.ok(good.connected, ctx.verdict(good));
  good.socket.close();
  const [h, p, s] = jwt.split('.');
  const forged = b64url(JSON.stringify({ ...claims, sub: 'http://app.example/mallory' }));
  await ctx.refused('tampered payload', { domain, auth: { jwt: `${h}.${forged}.${s}` } });
  await ctx.refused('tampered signature', { domain, auth: { jwt: `${h}.${p}.${s.slice(0, -4)}AAAA` } });
  await ctx.refused('garbage token', { domain, auth: { jwt: 'not.a.token' } });
  const now = Math.floor(Date.now() / 1000);
  const expired = mintLike(acc.key, { iss: claims.iss, exp: now - 60, iat: now - 660 });
  await ctx.refused('expired token', { domain, auth: { jwt: expired } });
  const forgedSelf = mintLike(acc.key, { iss: claims.iss, exp: now + 60, iat: now });
  const ok = await ctx.socket({ domain, auth: { jwt: forgedSelf } });
  assert.ok(ok.connected, `a token made the gateway's way connects (the expired one failed only by expiry): ${ctx.verdict(ok)}`);
  ok.socket.close();
  // Another account's token: on our domain, or claiming our account as issuer
  const other = await ctx.createAccount('jwtother');
  await ctx.patchAccount(other, { '@insert': { remotesAuth: 'jwt' } });
  const otherJwt = ctx.expect(await ctx.http('PUT', ctx.subdomainPath(other, 'x'), { auth: other.auth }), 200)
    .json.io.opts.auth.jwt;
  await ctx.refused('another account\'s token', { domain, auth: { jwt: otherJwt } });
  await ctx.refused('another account\'s key claiming our issuer',
    { domain, auth: { jwt: mintLike(other.key, { iss: claims.iss, exp: now + 60, iat: now }) } });
  // With jwt remotesAuth only, the account key is not accepted by the relay
  await ctx.refused('account key when only jwt is allowed', { domain, auth: acc.auth });
  await ctx.cloneFails(config, { auth: { jwt: expired } });

  // A token cannot manage the account or mint tokens
  ctx.expect(await ctx.http('POST', `/api/v1/user/${acc.name}/key`, { auth: bearer }), 403);
  ctx.expect(await ctx.http('PATCH', `/api/v1/user/${acc.name}`,
    { auth: bearer, body: { '@insert': { naming: 'uuid' } } }), 403);
  ctx.expect(await ctx.http('DELETE', ctx.subdomainPath(acc, sd), { auth: bearer }), 403);
  const again = ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, sd), { auth: bearer }), 200).json;
  assert.ok(!again.io.opts.auth.jwt.includes('.'), 'a token holder gets no new token');
  // …cannot create subdomains, nor register a signing key for another user
  ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, 'bytoken'), { auth: bearer }), 403);
  const { generateKeyPairSync } = await import('node:crypto');
  const spki = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey
    .export({ type: 'spki', format: 'der' }).toString('base64');
  ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, sd), { auth: bearer,
    body: { user: { '@id': 'http://app.example/bob', key: { keyid: 'bobkey1', public: spki } } } }), 403);
  ctx.expect(await ctx.http('GET', `${ctx.subdomainPath(acc, sd)}/state?q=${encodeURIComponent('{"@describe":"note"}')}`,
    { auth: `Bearer ${expired}` }), 401);

  // Revoking the minting key voids its tokens
  const keyid = acc.key.split('.')[1].split(':')[0];
  const spare = ctx.expect(await ctx.http('POST', `/api/v1/user/${acc.name}/key`, { auth: acc.auth }), 200).json.auth.key;
  ctx.expect(await ctx.http('DELETE', `/api/v1/user/${acc.name}/key/${keyid}`,
    { auth: { user: acc.name, key: spare } }), 204);
  await ctx.refused('token of a revoked key', { domain, auth: { jwt } });
  ctx.expect(await ctx.http('GET', `${ctx.subdomainPath(acc, sd)}/state?q=${encodeURIComponent('{"@describe":"note"}')}`,
    { auth: bearer }), 401);
}
