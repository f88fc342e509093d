// The backup clone's data survives a gateway restart: clone A writes 50
// subjects and leaves, the gateway is stopped (SIGTERM; then, on another
// subdomain, SIGKILL once the flush interval has passed) and started again on
// the same data; a new clone B, alone with the restarted gateway, gets
// exactly A's data. The backup clone keeps its identity across restarts.
import { writeFifty } from '../lib/data.mjs';

export const name = 'backup-restart';
export const timeoutMs = 90000;

/** sled flushes every 500 ms; wait three intervals before SIGKILL */
const FLUSH_WAIT_MS = 1500;

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('needs a gateway spawned by run.mjs (not GATEWAY_ORIGIN)');

  for (const signal of ['SIGTERM', 'SIGKILL']) {
    const { acc, name, config, domain } = await ctx.namedSubdomain(`rs-${signal.slice(3).toLowerCase()}`);
    const [backupId] = await ctx.presenceOf(domain, acc.auth);
    const a = await ctx.clone(config, { auth: acc.auth });
    await ctx.deadline(a.status.becomes({ outdated: false }), 15000, 'A up to date');
    const want = await writeFifty(ctx, a, { tag: signal });
    ctx.sameData(await ctx.allSubjects(a), want, 'A has what it wrote');
    await ctx.closeClone(a);
    if (signal === 'SIGKILL')
      await ctx.sleep(FLUSH_WAIT_MS);

    await ctx.restartGateway({ signal });

    // The restarted gateway reopens the backup clone for the first socket
    const after = await ctx.presenceOf(domain, acc.auth);
    assert.deepEqual(after, [backupId], `after ${signal} and restart, the same backup clone is present alone`);
    // PUT is still idempotent and does not reset anything
    await ctx.putSubdomain(acc, name);

    const { meld: b, data } = await ctx.freshClone(config, { auth: acc.auth });
    ctx.sameData(data, want, `B, alone with the gateway restarted after ${signal}, has exactly A's data`);

    // The restarted backup keeps working: B's write reaches a new clone C
    // through it, after B has left
    await b.write({ '@id': 'after-restart', by: 'B' });
    await ctx.closeClone(b);
    const { meld: c, data: cData } = await ctx.freshClone(config, { auth: acc.auth });
    ctx.sameData(cData, ctx.canonicalSubjects([...want, { '@id': 'after-restart', by: 'B' }]),
      `C, alone with the gateway restarted after ${signal}, has A's data and B's write`);
    await ctx.closeClone(c);
  }
}
