// Named subdomain administration: PUT is idempotent and checks who asks,
// names and bodies; DELETE removes the subdomain for good (a tombstone: the
// name can never be PUT again), and sockets on it are refused afterwards.
import { generateKeyPairSync } from 'node:crypto';

export const name = 'subdomain-lifecycle';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.createAccount('life');
  const stranger = await ctx.createAccount('stranger');
  const [app, rest] = acc.key.split('.');
  const wrongSecret = { user: acc.name, key: `${app}.${rest.split(':')[0]}:${'a'.repeat(74)}` };
  const put = (name, opts = {}) => ctx.http('PUT', ctx.subdomainPath(opts.account ?? acc, name),
    { auth: 'auth' in opts ? opts.auth : acc.auth, body: opts.body });
  const del = (name, opts = {}) => ctx.http('DELETE', ctx.subdomainPath(opts.account ?? acc, name),
    { auth: 'auth' in opts ? opts.auth : acc.auth });
  const expect = async (what, reply, ...codes) => {
    const r = await reply;
    assert.ok(codes.includes(r.status), `${what}: ${r.what} (expected ${codes.join('/')}): ${r.text.slice(0, 200)}`);
    return r;
  };

  // Who may PUT
  const name = ctx.freshName('sd');
  await expect('PUT without credentials', put(name, { auth: undefined }), 401);
  await expect('PUT with a wrong secret', put(name, { auth: wrongSecret }), 401);
  await expect('PUT with a garbage Authorization header', put(name, { auth: 'Basic !!!' }), 401);
  await expect('PUT with Bearer nonsense', put(name, { auth: 'Bearer abc.def.ghi' }), 401);
  await expect('PUT with another account\'s key', put(name, { auth: stranger.auth }), 403);
  await expect('PUT with another account\'s key, claiming the owner', put(name,
    { auth: { user: acc.name, key: stranger.key } }), 401, 403);
  await expect('PUT on an unknown account, by root', put(name, { account: ctx.freshName('nobody'), auth: ctx.root }), 404);
  // …and refused requests created nothing
  await expect('DELETE of a subdomain never created', del(name), 404);

  // Names and bodies
  for (const bad of ['Upper', 'has.dot', 'sp%20ace', 'x'.repeat(64), 'caf%C3%A9', '%2E%2E'])
    await expect(`PUT with name "${bad}"`, put(bad), 400, 404);
  const badName = await expect('PUT with an uppercase name', put('Upper'), 400);
  ctx.log('bad name →', badName.text);
  for (const body of ['{', '[]', '{"useSignatures":"yes"}', '{"user":"alice"}', '{"colour":1}'])
    await expect(`PUT with body ${body}`, put(name, { body }), 400);
  await expect('DELETE after bad PUTs', del(name), 404);

  // Idempotent PUT
  const config = await ctx.putSubdomain(acc, name);
  assert.equal(config.io.opts.auth.user, acc.name, 'io.opts.auth.user is the account');
  assert.notEqual(config.io.opts.auth.key, acc.key, 'the key is a placeholder');
  assert.deepEqual(await ctx.putSubdomain(acc, name), config, 'the same PUT again gives the same config');
  assert.deepEqual(await ctx.putSubdomain(acc, name, { useSignatures: false }), config, 'PUT with the same useSignatures');
  assert.deepEqual(await ctx.putSubdomain(acc, name, { user: { '@id': 'http://ex.org/alice' } }), config, 'PUT with a user');
  const byRoot = await ctx.putSubdomain(acc, name, undefined, { auth: ctx.root });
  assert.equal(byRoot['@domain'], config['@domain'], 'root can PUT it too');
  ctx.log('config for root\'s PUT:', JSON.stringify(byRoot));
  await expect('PUT changing useSignatures', put(name, { body: { useSignatures: true } }), 409);
  await expect('PUT with another account\'s key on an existing subdomain', put(name, { auth: stranger.auth }), 403);

  // A signed subdomain keeps its setting
  // (signers need a key: see signed-updates)
  const signed = ctx.freshName('signed');
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const user = { '@id': 'http://ex.org/alice',
    key: { keyid: 'alice1', public: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') } };
  await ctx.putSubdomain(acc, signed, { useSignatures: true, user });
  await ctx.putSubdomain(acc, signed, { useSignatures: true, user });
  await ctx.putSubdomain(acc, signed, { user });
  await expect('PUT turning signatures off', put(signed, { body: { useSignatures: false } }), 409);

  // Data in it, and a neighbour that must be unaffected by the DELETE
  const a = await ctx.clone(config, { auth: acc.auth });
  await a.write({ '@id': 'doomed', name: 'data in a subdomain to be deleted' });
  const neighbour = await ctx.putSubdomain(acc, ctx.freshName('keep'));
  const n1 = await ctx.clone(neighbour, { auth: acc.auth });
  await n1.write({ '@id': 'kept', ok: true });
  await ctx.closeClone(n1);
  await ctx.closeClone(a);
  const live = await ctx.connectedSocket({ domain: config['@domain'], auth: acc.auth });

  // Who may DELETE
  await expect('DELETE without credentials', del(name, { auth: undefined }), 401);
  await expect('DELETE with a wrong secret', del(name, { auth: wrongSecret }), 401);
  await expect('DELETE with another account\'s key', del(name, { auth: stranger.auth }), 403);
  await expect('DELETE on an unknown account, by root', del(name, { account: ctx.freshName('nobody'), auth: ctx.root }), 404);
  await expect('DELETE with a bad name', del('Upper'), 400, 404);
  const gone = await expect('DELETE', del(name), 204);
  assert.equal(gone.text, '', '204 has no body');

  // Tombstoned for good
  await expect('PUT again after DELETE', put(name), 409);
  await expect('PUT again after DELETE, by root', put(name, { auth: ctx.root }), 409);
  await expect('PUT again after DELETE, with a body', put(name, { body: { useSignatures: false } }), 409);
  await expect('DELETE again', del(name), 404);
  await expect('DELETE again, by root', del(name, { auth: ctx.root }), 404);
  await ctx.refused('socket on a deleted subdomain', { domain: config['@domain'], auth: acc.auth });
  await ctx.refused('socket on a deleted subdomain, root key', { domain: config['@domain'], auth: ctx.root });
  const how = await ctx.cloneFails(config, { auth: acc.auth });
  ctx.log('clone of a deleted subdomain:', how);
  // A socket that was connected when the subdomain went is sent away
  const until = Date.now() + 5000;
  while (live.connected && Date.now() < until)
    await ctx.sleep(50);
  assert.equal(live.connected, false, 'a socket connected during DELETE must be closed');

  // The neighbour is untouched
  const { data } = await ctx.freshClone(neighbour, { auth: acc.auth });
  assert.deepEqual(data, ctx.canonicalSubjects([{ '@id': 'kept', ok: true }]), 'the neighbour keeps its data');

  // Still gone after a restart (the tombstone and the deletion are stored)
  if (ctx.gateway) {
    await ctx.restartGateway({ signal: 'SIGTERM' });
    await expect('PUT after DELETE and a restart', put(name), 409);
    await expect('DELETE after DELETE and a restart', del(name), 404);
    await ctx.refused('socket on a deleted subdomain after a restart', { domain: config['@domain'], auth: acc.auth });
  }
}
