// Live sockets lose their admission with their credentials: revoking the key
// a socket connected with cuts it (and a real clone using that key stops
// receiving), while sockets of other keys stay; an account that stops
// allowing key authentication has its key sockets cut; the root's stay.
export const name = 'relay-revocation';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.createAccount('revoke');
  const keyid = k => k.split('.')[1].split(':')[0];
  const asAcc = key => ({ user: acc.name, key });
  const config = await ctx.putSubdomain(acc, 'live');
  const domain = config['@domain'];
  const second = ctx.expect(await ctx.http('POST', `/api/v1/user/${acc.name}/key`, { auth: acc.auth }), 200).json.auth.key;

  // Real clones on each key, and bare sockets to watch the cut
  const a = await ctx.clone(config, { auth: acc.auth });
  const b = await ctx.clone(config, { auth: asAcc(second) });
  await a.write({ '@id': 'before', n: 1 });
  await ctx.untilSubject(b, 'before');
  const watchFirst = await ctx.connectedSocket({ domain, id: 'watch-first', auth: acc.auth });
  const watchSecond = await ctx.connectedSocket({ domain, id: 'watch-second', auth: asAcc(second) });
  const rootAuth = ctx.root;
  const watchRoot = await ctx.connectedSocket({ domain, id: 'watch-root', auth: rootAuth });
  const cut = socket => new Promise(resolve => socket.once('disconnect', reason => resolve(reason)));
  const secondCut = cut(watchSecond);

  ctx.expect(await ctx.http('DELETE', `/api/v1/user/${acc.name}/key/${keyid(second)}`, { auth: acc.auth }), 204);
  const reason = await ctx.deadline(secondCut, 5000, 'the socket of the revoked key cut');
  assert.equal(reason, 'io server disconnect', 'the gateway closed it, not the transport');
  assert.ok(watchFirst.connected && watchRoot.connected, 'sockets of other keys stay');

  // The clone on the revoked key no longer hears the domain (m-ld closes a
  // clone whose remotes the server disconnected; if it has not, it must not
  // have received the write)
  await a.write({ '@id': 'after', n: 2 });
  await new Promise(resolve => setTimeout(resolve, 1500));
  const seenByB = await ctx.allSubjects(b).catch(e => {
    assert.match(e.message, /closed/i);
    return [];
  });
  assert.equal(seenByB.some(s => s['@id'] === 'after'), false, 'a clone whose key was revoked receives nothing more');

  // The account stops allowing key authentication: key sockets go, the root's stay
  const firstCut = cut(watchFirst);
  ctx.expect(await ctx.http('PATCH', `/api/v1/user/${acc.name}`,
    { auth: acc.auth, body: { '@insert': { remotesAuth: ['jwt'] } } }), 204);
  const cleared = ctx.expect(await ctx.http('GET', `/api/v1/user/${acc.name}`, { auth: acc.auth }), 200).json;
  if (cleared.remotesAuth?.includes('key')) {
    // key was there explicitly: take it away
    ctx.expect(await ctx.http('PATCH', `/api/v1/user/${acc.name}`,
      { auth: acc.auth, body: { '@delete': { remotesAuth: ['key'] } } }), 204);
  }
  await ctx.deadline(firstCut, 5000, 'key sockets cut when the account stops allowing keys');
  await new Promise(resolve => setTimeout(resolve, 300));
  assert.ok(watchRoot.connected, 'the root socket stays');

  // The gateway logged each cut on the audit target
  if (ctx.gateway) {
    const log = await ctx.gateway.logTail(400);
    assert.match(log, /relay socket cut: its credentials no longer admit it/);
  }
}
