// The update queue outlives the gateway, and event streams do not hold up
// its shutdown: a JS clone writes twice; with an update stream open, the
// gateway is restarted (SIGTERM): it stops promptly and the stream ends;
// after the restart a poll still has both updates, first emitted.
import { StateApi, canonicalUpdate, ndjson } from '../lib/cloneapi.mjs';

export const name = 'clone-api-updates-restart';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('needs a gateway spawned by run.mjs (not GATEWAY_ORIGIN)');
  const { acc, name, config } = await ctx.namedSubdomain('cu');
  const api = new StateApi(ctx, acc, name);
  const a = await ctx.clone(config, { auth: acc.auth });
  await ctx.deadline(a.status.becomes({ outdated: false }), 15000, 'A up to date');
  const jsUpdates = [];
  a.follow(update => {
    jsUpdates.push(canonicalUpdate(update));
  });
  await a.write({ '@id': 'fred', name: 'Fred' });
  await a.write({ '@id': 'wilma', name: 'Wilma', spouse: { '@id': 'fred' } });
  await api.until(all => all.length === 2, 'with both subjects');
  await ctx.closeClone(a);

  const sse = await api.updates();
  const { stoppedMs } = await ctx.restartGateway();
  assert.ok(stoppedMs < 2000, `stopped in ${stoppedMs} ms with an update stream open`);
  await ctx.until(() => sse.ended, 3000, 'the update stream to end');

  const r = ctx.expect(await api.poll(), 201);
  const polled = ndjson(r.text);
  assert.deepEqual(polled.map(u => u['@emitCount']), [1, 1], `both updates kept: ${r.text}`);
  assert.deepEqual(polled.map(canonicalUpdate), jsUpdates, 'the JS clone\'s updates');
  ctx.expect(await api.unlock(), 200);
}
