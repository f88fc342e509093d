// A clone that was offline while others wrote catches up through the gateway
// (revup from the backup clone) when it returns with nobody else online, and
// what it wrote while offline reaches the gateway and, from there, a new
// clone. Two ways of being offline: C is closed and reopened on the same
// store and @id; E stays open with its connection cut, and reconnects.
export const name = 'backup-revup';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;
  const { acc, config, domain } = await ctx.namedSubdomain('revup');
  const auth = acc.auth;
  const want = new Map();
  const put = s => want.set(s['@id'], s);

  const a = await ctx.clone(config, { auth });
  await ctx.deadline(a.status.becomes({ outdated: false }), 15000, 'A up to date');
  let c = await ctx.clone(config, { auth });
  const e = await ctx.clone(config, { auth });
  await a.write({ '@id': 'shared', title: 'Plans', rev: 1 });
  put({ '@id': 'shared', title: 'Plans', rev: 1 });
  await c.write({ '@id': 'c-online', by: 'C' });
  put({ '@id': 'c-online', by: 'C' });
  await e.write({ '@id': 'e-online', by: 'E' });
  put({ '@id': 'e-online', by: 'E' });
  await ctx.converged([a, c, e]);

  // C: cut off, writes offline, then closes (its store kept)
  await ctx.cutConnection(c);
  await c.write({ '@id': 'c-offline', by: 'C', when: 'offline' });
  await c.write({ '@insert': { '@id': 'shared', note: 'from C offline' } });
  put({ '@id': 'c-offline', by: 'C', when: 'offline' });
  const cId = c.id, cBackend = c.backend;
  await ctx.closeClone(c);
  // E: cut off and stays open; writes offline
  await ctx.cutConnection(e);
  await e.write({ '@id': 'e-offline', by: 'E', when: 'offline' });
  await e.write({ '@delete': { '@id': 'c-online', by: 'C' } }); // E deletes what C wrote online
  want.delete('c-online');
  put({ '@id': 'e-offline', by: 'E', when: 'offline' });

  // Meanwhile A and B write (B also joins while C and E are away), then leave
  for (let i = 0; i < 10; i++) {
    await a.write({ '@id': `a${i}`, by: 'A', i });
    put({ '@id': `a${i}`, by: 'A', i });
  }
  await a.write({ '@delete': { '@id': 'shared', rev: 1 }, '@insert': { '@id': 'shared', rev: 2 } });
  const b = await ctx.clone(config, { auth });
  await ctx.deadline(b.status.becomes({ outdated: false }), 15000, 'B up to date');
  await b.write({ '@graph': [{ '@id': 'b0', by: 'B' }, { '@id': 'b1', by: 'B', see: { '@id': 'a3' } }] });
  put({ '@id': 'b0', by: 'B' });
  put({ '@id': 'b1', by: 'B', see: { '@id': 'a3' } });
  await ctx.converged([a, b]);
  await ctx.closeClone(a);
  await ctx.closeClone(b);
  put({ '@id': 'shared', title: 'Plans', rev: 2, note: 'from C offline' });
  const wanted = ctx.canonicalSubjects([...want.values()]);

  // A bare socket watches what is published in the domain from now on
  const watch = await ctx.connectedSocket({ domain, auth });
  const opsSince = at => watch.received.filter(r => r.event === 'operation' && r.at >= at).length;
  assert.deepEqual((await ctx.presenceOf(domain, auth)).length, 1, 'only the backup clone is present');

  // C returns: only the gateway can give it what it missed
  let t = Date.now();
  c = await ctx.clone(config, { auth, id: cId, backend: cBackend });
  await ctx.deadline(c.status.becomes({ outdated: false }), 15000, 'C up to date again');
  await ctx.untilSubject(c, 'b1', s => s != null, 15000).catch(err => {
    throw new Error(`C did not catch up through the gateway: ${err.message}`);
  });
  // C publishes what it wrote offline (the gateway's revup told it what the
  // gateway lacks)
  await ctx.until(() => opsSince(t) > 0, 10000, 'C publishing its offline writes after revup');
  const cData = await ctx.settled(c);
  await ctx.closeClone(c);

  // E reconnects (same clone, still open)
  t = Date.now();
  await ctx.reconnect(e);
  await ctx.deadline(e.status.becomes({ online: true, outdated: false }), 15000, 'E up to date again');
  await ctx.untilSubject(e, 'c-offline', s => s != null, 15000).catch(err => {
    throw new Error(`E did not catch up through the gateway: ${err.message}`);
  });
  await ctx.until(() => opsSince(t) > 0, 10000, 'E publishing its offline writes after revup');
  const eData = await ctx.settled(e);
  ctx.sameData(eData, wanted, 'E after catching up has everyone\'s writes');
  // C caught up with everything but E's offline writes (E was still away)
  const cWant = ctx.canonicalSubjects([...want.values(),
    { '@id': 'c-online', by: 'C' }].filter(s => s['@id'] !== 'e-offline'));
  ctx.sameData(cData, cWant, 'C after catching up has everything but E\'s offline writes');
  await ctx.closeClone(e);

  // Everyone's offline writes reached the gateway: a new clone alone with it
  const { data } = await ctx.freshClone(config, { auth });
  ctx.sameData(data, wanted, 'a new clone, alone with the gateway, has everything');
}
