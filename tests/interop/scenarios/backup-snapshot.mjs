// A named subdomain's data outlives its clones: clone A writes 50 subjects and
// leaves; a new clone B, alone with the gateway, gets exactly A's final data
// from the gateway's backup clone. Also: a clone connecting the instant PUT
// answers is never "siloed" (over each transport).
import { writeFifty } from '../lib/data.mjs';

export const name = 'backup-snapshot';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;

  // A clone started the moment PUT answers (no presence wait of any kind)
  // must find the backup and come online, on every transport
  for (const transports of [undefined, ['polling'], ['websocket']]) {
    const acc = await ctx.createAccount('instant');
    const name = ctx.freshName('sd');
    const config = await ctx.putSubdomain(acc, name);
    const how = transports?.join() ?? 'default transports';
    const c = await ctx.clone(config, { auth: acc.auth, transports, online: false }).catch(e => {
      throw new Error(`clone started the instant PUT returned (${how}) failed: ${e.message}`);
    });
    await ctx.deadline(c.status.becomes({ online: true, outdated: false }), 15000,
      `clone started the instant PUT returned (${how}) coming online`);
    await c.write({ '@id': 'hello', by: how });
    assert.deepEqual(await ctx.allSubjects(c), ctx.canonicalSubjects([{ '@id': 'hello', by: how }]));
    await ctx.closeClone(c);
  }

  const acc = await ctx.createAccount('snap');
  const name = ctx.freshName('sd');
  const config = await ctx.putSubdomain(acc, name);
  const domain = config['@domain'];
  const again = await ctx.putSubdomain(acc, name);
  assert.deepEqual(again, config, 'PUT again gives the same config');

  // The backup clone is present, first, before any client
  const before = await ctx.presenceOf(domain, acc.auth);
  assert.equal(before.length, 1, `only the backup clone present on a new subdomain: ${JSON.stringify(before)}`);
  const backupId = before[0];

  const a = await ctx.clone(config, { auth: acc.auth });
  await ctx.deadline(a.status.becomes({ outdated: false }), 15000, 'A up to date');
  const withA = await ctx.presenceOf(domain, acc.auth);
  assert.deepEqual(withA, [backupId, a.id], 'presence lists the backup clone first, then A');

  const want = await writeFifty(ctx, a);
  assert.equal(want.length, 50 - 1, 'fifty subjects written, one deleted');
  ctx.sameData(await ctx.allSubjects(a), want, 'A has what it wrote');
  await ctx.closeClone(a);

  // Nobody but the gateway: B's snapshot can only come from the backup clone
  assert.deepEqual(await ctx.presenceOf(domain, acc.auth), [backupId], 'only the backup clone left');
  const { meld: b, data } = await ctx.freshClone(config, { auth: acc.auth });
  ctx.sameData(data, want, 'B, alone with the gateway, has exactly A\'s data');

  // B is live: its write reaches a third clone through the gateway
  await b.write({ '@insert': { '@id': 's1', tag: 'from-b' } });
  const c = await ctx.clone(config, { auth: acc.auth });
  await ctx.untilSubject(c, 's1', s => [].concat(s?.tag ?? []).includes('from-b'));
  await ctx.converged([b, c]);
}
