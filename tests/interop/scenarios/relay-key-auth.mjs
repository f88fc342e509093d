// Key-authenticated clones on a UUID subdomain of an account with the default
// remotesAuth (key): the right credentials (or the root key) connect and sync;
// anything else is refused at the handshake.
export const name = 'relay-key-auth';
export const timeoutMs = 90000;

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.uuidAccount('keyed');       // remotesAuth left as default
  const stranger = await ctx.createAccount('stranger');
  const config = await ctx.newUuidDomain(acc);
  // Key auth is required, so the config says so, but never with the real key
  const opts = config.io?.opts?.auth;
  assert.ok(opts && 'user' in opts && 'key' in opts,
    `config for a key-auth account should carry io.opts.auth {user, key}: ${JSON.stringify(config)}`);
  assert.notEqual(opts.key, acc.key, 'the config must not hand out the account key');
  const domain = config['@domain'];

  // Two key-authenticated clones sync both ways
  const a = await ctx.clone(config, { auth: acc.auth, genesis: true });
  const b = await ctx.clone(config, { auth: acc.auth, genesis: false });
  await ctx.deadline(b.status.becomes({ online: true, outdated: false }), 15000, 'B up to date');
  await a.write({ '@id': 'doc', title: 'Plans', rev: 1 });
  await ctx.untilSubject(b, 'doc', s => s?.rev === 1);
  await b.write({ '@delete': { '@id': 'doc', rev: 1 }, '@insert': { '@id': 'doc', rev: 2 } });
  await ctx.untilSubject(a, 'doc', s => s?.rev === 2);
  assert.deepEqual(await ctx.converged([a, b]),
    ctx.canonicalSubjects([{ '@id': 'doc', title: 'Plans', rev: 2 }]));

  // Raw handshakes
  const [app, rest] = acc.key.split('.');
  const keyid = rest.split(':')[0];
  const good = await ctx.socket({ domain, auth: acc.auth });
  assert.ok(good.connected, `the account's own key should connect: ${ctx.verdict(good)}`);
  good.socket.close();
  const root = await ctx.socket({ domain, auth: ctx.root });
  assert.ok(root.connected, `the root key (as ${ctx.root.user}) should connect: ${ctx.verdict(root)}`);
  root.socket.close();

  const wrongSecret = `${app}.${keyid}:${'a'.repeat(74)}`;
  await ctx.refused('wrong secret', { domain, auth: { user: acc.name, key: wrongSecret } });
  await ctx.refused('unknown keyid', { domain, auth: { user: acc.name, key: `${app}.zzzzzz:${'b'.repeat(74)}` } });
  await ctx.refused('another account\'s key, as the owner', { domain, auth: { user: acc.name, key: stranger.key } });
  await ctx.refused('another account\'s key, as itself', { domain, auth: stranger.auth });
  await ctx.refused('key without user', { domain, auth: { key: acc.key } });
  await ctx.refused('user without key', { domain, auth: { user: acc.name } });
  await ctx.refused('anonymous (no auth)', { domain });
  await ctx.refused('anonymous (empty auth)', { domain, auth: {} });
  await ctx.refused('malformed key', { domain, auth: { user: acc.name, key: 'not-a-key' } });
  // The root account's name with the account's key is not the root key
  await ctx.refused('account key claiming to be root', { domain, auth: { user: ctx.root.user, key: acc.key } });
  // A key for the right account on another account's domain
  const strangerDomain = ctx.domainOf(stranger, ctx.uuidName());
  await ctx.refused('own key on another account\'s domain', { domain: strangerDomain, auth: acc.auth });
  // Named (non-UUID) subdomain: anonymous is refused
  await ctx.refused('anonymous on a named subdomain', { domain: ctx.domainOf(acc, 'named') });

  // A real clone with a wrong key does not get going; an anonymous one neither
  const how = await ctx.cloneFails(config, { auth: { user: acc.name, key: wrongSecret }, genesis: false });
  ctx.log('clone with wrong key:', how);
  const howAnon = await ctx.cloneFails(config, { auth: null, genesis: false });
  ctx.log('anonymous clone:', howAnon);

  // Nothing leaked in or out, and the good clones still work
  await a.write({ '@id': 'after', ok: true });
  await ctx.untilSubject(b, 'after');
  assert.deepEqual((await ctx.converged([a, b])).map(s => s['@id']), ['after', 'doc']);
}
