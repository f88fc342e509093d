// Anonymous m-ld clones on a UUID subdomain sync through the relay: inserts
// and deletes both ways, and a late joiner gets everything by snapshot.
export const name = 'relay-anon-sync';
export const timeoutMs = 90000;

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.createAccount('anon');
  // No UUID naming yet: the gateway cannot make up a name
  ctx.expect(await ctx.http('POST', `/api/v1/domain/${acc.name}`), 405);
  await ctx.patchAccount(acc, { '@insert': { naming: 'uuid', remotesAuth: 'anon' } });
  const config = await ctx.newUuidDomain(acc);
  assert.equal(config.io?.opts?.auth, undefined,
    `an anon-only account's config must carry no credentials: ${JSON.stringify(config)}`);
  const other = await ctx.newUuidDomain(acc);
  assert.notEqual(other['@domain'], config['@domain'], 'each POST gives a new name');

  const a = await ctx.clone(config, { auth: null, genesis: true });
  const b = await ctx.clone(config, { auth: null, genesis: false, transports: ['websocket'] });
  await ctx.deadline(b.status.becomes({ online: true, outdated: false }), 15000, 'B up to date');

  // Insert A → B
  await a.write({ '@id': 'fred', '@type': 'Person', name: 'Fred', age: 40, likes: ['tea', 'jazz'] });
  const fredAtB = await ctx.untilSubject(b, 'fred');
  assert.deepEqual(ctx.canonicalSubjects([fredAtB]), ctx.canonicalSubjects([
    { '@id': 'fred', '@type': 'Person', name: 'Fred', age: 40, likes: ['tea', 'jazz'] }]));
  // Insert B → A, with a reference and a multi-subject transaction
  await b.write({ '@graph': [
    { '@id': 'wilma', name: 'Wilma', spouse: { '@id': 'fred' } },
    { '@id': 'pebbles', name: 'Pebbles', parent: [{ '@id': 'fred' }, { '@id': 'wilma' }] }
  ] });
  const wilmaAtA = await ctx.untilSubject(a, 'wilma');
  assert.deepEqual(wilmaAtA, { '@id': 'wilma', name: 'Wilma', spouse: { '@id': 'fred' } });
  await ctx.untilSubject(a, 'pebbles');

  // Delete a property A → B, one value of a multi-valued one B → A
  await a.write({ '@delete': { '@id': 'fred', age: 40 } });
  await ctx.untilSubject(b, 'fred', s => s != null && s.age === undefined);
  await b.write({ '@delete': { '@id': 'fred', likes: 'jazz' } });
  await ctx.untilSubject(a, 'fred', s => s?.likes === 'tea');
  // Delete a whole subject B → A
  await b.write({ '@delete': { '@id': 'wilma', '?p': '?o' }, '@where': { '@id': 'wilma', '?p': '?o' } });
  await ctx.untilSubject(a, 'wilma', s => s == null);

  // Some bulk for the snapshot (many snapshot messages through the relay)
  await a.write({ '@graph': Array.from({ length: 200 }, (_, i) => ({ '@id': `item${i}`, n: i, tag: `t${i % 3}` })) });
  const expected = ctx.canonicalSubjects([
    { '@id': 'fred', '@type': 'Person', name: 'Fred', likes: 'tea' },
    { '@id': 'pebbles', name: 'Pebbles', parent: [{ '@id': 'fred' }, { '@id': 'wilma' }] },
    ...Array.from({ length: 200 }, (_, i) => ({ '@id': `item${i}`, n: i, tag: `t${i % 3}` }))
  ]);
  assert.deepEqual(await ctx.converged([a, b]), expected);

  // A late joiner gets everything from the others through the relay (over
  // long-polling only, while B is on websocket only and A upgrades)
  ctx.log('C joining');
  const c = await ctx.clone(config, { auth: null, genesis: false, transports: ['polling'] });
  await ctx.deadline(c.status.becomes({ online: true, outdated: false }), 15000, 'C up to date');
  ctx.log('C up to date');
  assert.deepEqual(await ctx.converged([a, b, c]), expected);
  // ... and takes part: its write reaches both
  await c.write({ '@id': 'dino', name: 'Dino' });
  await ctx.untilSubject(a, 'dino');
  await ctx.untilSubject(b, 'dino');
  const final = await ctx.converged([a, b, c]);
  assert.deepEqual(final, ctx.canonicalSubjects([
    ...expected, { '@id': 'dino', name: 'Dino' }]));

}
