// Three clones write concurrently to the same subjects and properties while
// the gateway's backup clone listens; once quiet, all three hold identical
// data, and a fresh clone D that joins with nobody but the gateway online
// gets that same data (the backup converged too).
export const name = 'backup-concurrent';
export const timeoutMs = 60000;

const SUBJECTS = 8;
const ROUNDS = 6;

export default async function (ctx) {
  const { assert } = ctx;
  const { acc, config } = await ctx.namedSubdomain('conc');
  const clones = [];
  for (const transports of [undefined, ['polling'], ['websocket']]) {
    const c = await ctx.clone(config, { auth: acc.auth, transports });
    await ctx.deadline(c.status.becomes({ outdated: false }), 15000, `clone ${clones.length} up to date`);
    clones.push(c);
  }
  const [a] = clones;
  // A common starting point
  await a.write({ '@graph': Array.from({ length: SUBJECTS }, (_, i) =>
    ({ '@id': `k${i}`, owner: 'nobody', count: 0, tags: ['base'] })) });
  await ctx.converged(clones);

  // Concurrent, conflicting writes: every clone overwrites the same
  // properties of the same subjects (delete-where + insert), adds values to
  // the same multi-valued property, deletes a value others also delete, and
  // deletes/re-creates a subject the others are editing
  await Promise.all(clones.map(async (c, n) => {
    const me = `c${n}`;
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < SUBJECTS; i++) {
        const id = `k${(i + n) % SUBJECTS}`;
        await c.write({
          '@delete': { '@id': id, owner: '?o' },
          '@insert': { '@id': id, owner: `${me}-r${r}`, tags: `${me}-${r}` },
          '@where': { '@id': id, owner: '?o' }
        });
      }
      await c.write({ '@insert': { '@id': `k${r % SUBJECTS}`, count: r * 10 + n } });
      if (r === 2)
        await c.write({ '@delete': { '@id': 'k1', tags: 'base' } });
      if (r === 3 && n === 1)
        await c.write({ '@delete': { '@id': 'k5', '?p': '?o' }, '@where': { '@id': 'k5', '?p': '?o' } });
      if (r === 4)
        await c.write({ '@id': `own-${me}`, by: me, round: r });
    }
  }));

  const agreed = await ctx.converged(clones, 30000);
  // Sanity: the writes did land (and conflict): every clone's own subject is
  // there, and some subject has several owners (concurrent inserts both win)
  for (let n = 0; n < clones.length; n++)
    assert.ok(agreed.some(s => s['@id'] === `own-c${n}`), `own-c${n} in ${JSON.stringify(agreed).slice(0, 300)}`);
  assert.ok(agreed.some(s => (s.owner?.length ?? 0) > 1),
    `the writes should have conflicted (a subject with several owners): ${JSON.stringify(agreed).slice(0, 300)}`);
  const k1 = agreed.find(s => s['@id'] === 'k1');
  assert.ok(!k1?.tags?.includes('base'), `k1's tag "base" deleted by everyone: ${JSON.stringify(k1)}`);
  ctx.log('converged data:', JSON.stringify(agreed).slice(0, 1000));

  for (const c of clones)
    await ctx.closeClone(c);
  const { data } = await ctx.freshClone(config, { auth: acc.auth });
  ctx.sameData(data, agreed, 'D, alone with the gateway, has what the three clones agreed on');
}
