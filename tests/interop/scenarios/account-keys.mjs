// Keys per device: listed without secrets, revoked (refused at once on HTTP
// and Socket.io), rotated (the old key works through the grace period, then
// not); RSA key pairs on request; the root public key; account removal.
import { createPublicKey, createPrivateKey, sign, verify } from 'node:crypto';
export const name = 'account-keys';
export const timeoutMs = 90000;

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.createAccount('keys');
  const keyid = k => k.split('.')[1].split(':')[0];
  const asAcc = key => ({ user: acc.name, key });
  const sd = 'docs';
  const config = await ctx.putSubdomain(acc, sd);
  const domain = config['@domain'];

  // A second key for another device; both listed, no secrets in the list
  const second = ctx.expect(await ctx.http('POST', `/api/v1/user/${acc.name}/key`, { auth: acc.auth }), 200).json.auth.key;
  assert.notEqual(second, acc.key);
  const list = ctx.expect(await ctx.http('GET', `/api/v1/user/${acc.name}/key`, { auth: acc.auth }), 200);
  assert.deepEqual(list.json.map(k => k.keyid).sort(), [keyid(acc.key), keyid(second)].sort());
  assert.ok(list.json.every(k => k.status === 'active'), list.text);
  for (const k of [acc.key, second])
    assert.ok(!list.text.includes(k.split(':')[1]), 'the list must not show secrets');
  // Another account cannot list them
  const stranger = await ctx.createAccount('stranger');
  ctx.expect(await ctx.http('GET', `/api/v1/user/${acc.name}/key`, { auth: stranger.auth }), 401, 403);

  // Revocation: refused at once over HTTP and at the handshake; the other key is unaffected
  ctx.expect(await ctx.http('DELETE', `/api/v1/user/${acc.name}/key/${keyid(second)}`, { auth: acc.auth }), 204);
  ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, sd), { auth: asAcc(second) }), 401);
  await ctx.refused('revoked key', { domain, auth: asAcc(second) });
  const how = await ctx.cloneFails(config, { auth: asAcc(second) });
  ctx.log('clone with a revoked key:', how);
  await ctx.putSubdomain(acc, sd);
  const revoked = ctx.expect(await ctx.http('GET', `/api/v1/user/${acc.name}/key`, { auth: acc.auth }), 200).json;
  assert.equal(revoked.find(k => k.keyid === keyid(second)).status, 'revoked');
  // Revoking someone else's key is "not found", and changes nothing
  ctx.expect(await ctx.http('DELETE', `/api/v1/user/${stranger.name}/key/${keyid(acc.key)}`, { auth: stranger.auth }), 404);
  await ctx.putSubdomain(acc, sd);

  // Rotation: a new key; the old one works during the grace period, then not
  const rotated = ctx.expect(await ctx.http('POST',
    `/api/v1/user/${acc.name}/key/${keyid(acc.key)}/rotate`, { auth: acc.auth }), 200).json;
  const fresh = rotated.auth.key;
  assert.equal(rotated.rotated.keyid, keyid(acc.key));
  const graceMs = rotated.rotated.expires - Date.now();
  if (graceMs > 20000)
    ctx.skip(`rotation grace period is ${Math.round(graceMs / 1000)} s; set it short to test its end`);
  const a = await ctx.clone(config, { auth: acc.auth });        // old key, within grace
  await a.write({ '@id': 'rotation', phase: 'grace' });
  await ctx.putSubdomain({ ...acc, auth: asAcc(fresh), key: fresh }, sd);
  await ctx.sleep(Math.max(0, rotated.rotated.expires - Date.now()) + 200);
  ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, sd), { auth: acc.auth }), 401);
  await ctx.refused('rotated key after its grace period', { domain, auth: acc.auth });
  const b = await ctx.clone(config, { auth: asAcc(fresh) });
  await ctx.untilSubject(b, 'rotation', s => s?.phase === 'grace');

  // RSA key pair on request: SPKI public, PKCS#8 private encrypted with the key's secret
  const rsa = ctx.expect(await ctx.http('POST', `/api/v1/user/${acc.name}/key?type=rsa`,
    { auth: asAcc(fresh) }), 200).json;
  assert.equal(rsa.key.type, 'rsa');
  const pub = createPublicKey({ key: Buffer.from(rsa.key.public, 'base64'), format: 'der', type: 'spki' });
  const priv = createPrivateKey({ key: Buffer.from(rsa.key.private, 'base64'), format: 'der', type: 'pkcs8',
    passphrase: rsa.auth.key.split(':')[1] });
  const sig = sign('sha256', Buffer.from('data'), priv);
  assert.ok(verify('sha256', Buffer.from('data'), pub, sig), 'the pair signs and verifies');
  const pem = ctx.expect(await ctx.http('GET', `/api/v1/user/${acc.name}/publicKey/${keyid(rsa.auth.key)}`,
    { auth: asAcc(fresh) }), 200).text;
  assert.equal(pem.trim(), pub.export({ format: 'pem', type: 'spki' }).trim());
  ctx.expect(await ctx.http('POST', `/api/v1/user/${acc.name}/key?type=dsa`, { auth: asAcc(fresh) }), 400);

  // The root public key is a PEM SPKI key
  const rootPem = ctx.expect(await ctx.http('GET', '/api/v1/publicKey'), 200).text;
  assert.equal(createPublicKey(rootPem).asymmetricKeyType, 'rsa');

  // Account removal: its subdomain goes (name unusable), its keys stop working
  await ctx.closeClone(a);
  await ctx.closeClone(b);
  ctx.expect(await ctx.http('DELETE', `/api/v1/user/${acc.name}`, { auth: stranger.auth }), 401, 403);
  ctx.expect(await ctx.http('DELETE', `/api/v1/user/${acc.name}`, { auth: asAcc(fresh) }), 204);
  ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, sd), { auth: asAcc(fresh) }), 401);
  await ctx.refused('key of a deleted account', { domain, auth: asAcc(fresh) });
  ctx.expect(await ctx.http('GET', `/api/v1/user/${acc.name}`, { auth: ctx.root }), 404);
  // Root re-creates the name: the old subdomain name stays unusable
  const reborn = ctx.expect(await ctx.http('POST', `/api/v1/user/${acc.name}/key`, { auth: ctx.root }), 200).json.auth.key;
  ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, sd), { auth: asAcc(reborn) }), 409);
}
