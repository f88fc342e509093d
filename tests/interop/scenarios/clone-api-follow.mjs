// Following updates through the Clone API, as the Node gateway's poll/lock:
// each JS update is polled once with @emitCount 1, again with 2 while the
// lock is held; while locked, the JS clone's new operations are held (the
// state stays put) and apply once the lock is released, which clears the
// queue. POST …/state?lock keeps a lock; GET …/state?lock tells. Beyond
// Node: GET …/updates streams every update as Server-Sent Events.
import { StateApi, canonicalUpdate, ndjson } from '../lib/cloneapi.mjs';

export const name = 'clone-api-follow';
export const timeoutMs = 90000;

export default async function (ctx) {
  const { assert } = ctx;
  const { acc, name, config } = await ctx.namedSubdomain('cf');
  const api = new StateApi(ctx, acc, name);
  const lockUrl = `/domain/${acc.name}/${name}/state?lock`;

  assert.equal(await api.locked(), false, 'not locked at first');
  ctx.expect(await api.unlock(), 404);

  const a = await ctx.clone(config, { auth: acc.auth });
  await ctx.deadline(a.status.becomes({ outdated: false }), 15000, 'A up to date');
  const jsUpdates = [];
  a.follow(update => {
    jsUpdates.push(canonicalUpdate(update));
  });

  // Nothing yet: an empty poll still locks; releasing it answers 200
  let r = ctx.expect(await api.poll(), 201);
  assert.equal(r.text.trim(), '', `nothing queued yet: ${r.text}`);
  assert.equal(await api.locked(), true, 'a poll locks');
  ctx.expect(await api.unlock(), 200);
  assert.equal(await api.locked(), false, 'released');

  // Three JS writes, each an update
  await a.write({ '@id': 'fred', '@type': 'Person', name: 'Fred', age: 42 });
  await a.write({ '@graph': [{ '@id': 'wilma', name: 'Wilma', spouse: { '@id': 'fred' } },
    { '@id': 'dino', name: 'Dino' }] });
  await a.write({ '@delete': { '@id': 'fred', age: 42 }, '@insert': { '@id': 'fred', age: 43 } });
  await ctx.until(() => jsUpdates.length === 3, 5000, 'A\'s own three updates');
  await api.until(all => all.some(s => s['@id'] === 'fred' && ctx.stableJson(s.age) === '[43]'), 'with fred aged 43');

  r = ctx.expect(await api.poll(), 201);
  assert.match(r.contentType, /application\/x-ndjson/, 'poll content type');
  assert.equal(r.headers.get('location'), lockUrl, 'poll Location');
  assert.match(r.headers.get('etag') ?? '', /^"\d+"$/, 'poll ETag');
  const first = ndjson(r.text);
  assert.equal(first.length, 3, `each JS update once: ${r.text}`);
  assert.deepEqual(first.map(u => u['@emitCount']), [1, 1, 1], 'first emitted');
  assert.deepEqual(first.map(canonicalUpdate), jsUpdates, 'the same updates as A\'s own');
  const ticks = first.map(u => u['@ticks']);
  assert.ok(ticks.every((t, i) => Number.isInteger(t) && (i === 0 || t > ticks[i - 1])), `@ticks ascend: ${ticks}`);
  assert.deepEqual(first.map(u => u['@update']), [[], [], []], '@update is empty');
  assert.equal(await api.locked(), true, 'locked by the poll');

  // While locked, A's next write is held: the state stays as polled
  const stable = await api.all();
  await a.write({ '@id': 'barney', name: 'Barney' });
  await ctx.sleep(700);
  assert.deepEqual(await api.all(), stable, 'the locked state does not change');

  // Not released: the same updates again, emitted twice, and nothing new
  r = ctx.expect(await api.poll(), 201);
  const second = ndjson(r.text);
  assert.deepEqual(second.map(u => u['@emitCount']), [2, 2, 2], `emitted twice: ${r.text}`);
  assert.deepEqual(second.map(canonicalUpdate), jsUpdates.slice(0, 3), 'the same three');

  // Released: the queue is cleared and the held operation applies
  ctx.expect(await api.unlock(), 200);
  assert.equal(await api.locked(), false);
  ctx.expect(await api.unlock(), 404);
  await api.until(all => all.some(s => s['@id'] === 'barney'), 'with barney once unlocked');
  await ctx.until(() => jsUpdates.length === 4, 5000, 'A\'s fourth update');
  r = ctx.expect(await api.poll(), 201);
  const third = ndjson(r.text);
  assert.equal(third.length, 1, `only the held update after release: ${r.text}`);
  assert.equal(third[0]['@emitCount'], 1);
  assert.deepEqual(canonicalUpdate(third[0]), jsUpdates[3], 'barney\'s update');
  ctx.expect(await api.unlock(), 200);

  // POST ?lock writes and keeps a lock; the write still reaches A
  r = ctx.expect(await api.post({ '@id': 'betty', name: 'Betty' }, { lock: true }), 201);
  assert.equal(r.headers.get('location'), lockUrl, 'POST ?lock Location');
  assert.equal(await api.locked(), true, 'POST ?lock locks');
  await ctx.untilSubject(a, 'betty');
  // A plain POST under the lock keeps it
  ctx.expect(await api.post({ '@id': 'betty', age: 38 }), 200);
  assert.equal(await api.locked(), true, 'a plain POST under a lock keeps it');
  // The writes under the lock are queued as already emitted once (echo)
  r = ctx.expect(await api.poll(), 201);
  const echoes = ndjson(r.text);
  assert.deepEqual(echoes.map(u => u['@emitCount']), [2, 2], `echoes polled: ${r.text}`);
  assert.deepEqual(echoes.map(u => canonicalUpdate(u)['@insert']),
    [[{ '@id': 'betty', name: ['Betty'] }], [{ '@id': 'betty', age: [38] }]], 'echoes');
  ctx.expect(await api.unlock(), 200);
  // A plain POST without a lock takes none, and queues nothing
  ctx.expect(await api.post({ '@id': 'betty', height: 5 }), 200);
  assert.equal(await api.locked(), false, 'a plain POST takes no lock');
  r = ctx.expect(await api.poll(), 201);
  assert.equal(r.text.trim(), '', `a plain POST is not queued: ${r.text}`);
  ctx.expect(await api.unlock(), 200);

  // Server-Sent Events: A's updates and Clone API writes, as they happen
  const sse = await api.updates();
  assert.equal(sse.status, 200);
  assert.match(sse.contentType, /text\/event-stream/);
  try {
    const before = jsUpdates.length;
    await a.write({ '@id': 'pebbles', name: 'Pebbles', parent: [{ '@id': 'fred' }, { '@id': 'wilma' }] });
    await a.write({ '@delete': { '@id': 'dino', name: 'Dino' } });
    await ctx.until(() => sse.events.length >= 2, 10000, 'two events on the stream');
    await ctx.until(() => jsUpdates.length === before + 2, 5000, 'A\'s updates');
    assert.deepEqual(sse.events.slice(0, 2).map(canonicalUpdate), jsUpdates.slice(before),
      'the stream carries A\'s updates');
    assert.ok(sse.events.every(e => !('@emitCount' in e) && Number.isInteger(e['@ticks'])), 'plain MeldUpdates');
    ctx.expect(await api.post({ '@id': 'bammbamm', name: 'Bamm-Bamm' }), 200);
    await ctx.until(() => sse.events.length >= 3, 10000, 'the Clone API write on the stream');
    assert.deepEqual(canonicalUpdate(sse.events[2]),
      { '@delete': [], '@insert': [{ '@id': 'bammbamm', name: ['Bamm-Bamm'] }] });
    assert.deepEqual(sse.other, [], 'no lag or other events');
    // A second subscriber with another account's key is refused
    const stranger = await ctx.createAccount('cfx');
    const refused = await api.updates({ auth: stranger.auth });
    assert.equal(refused.status, 403, `another account's stream: ${refused.status} ${refused.text}`);
  } finally {
    sse.close();
  }
  // Polls saw the same updates too (A's two and the Clone API write is not queued)
  r = ctx.expect(await api.poll(), 201);
  assert.equal(ndjson(r.text).length, 2, `queued while streaming: ${r.text}`);
  ctx.expect(await api.unlock(), 200);
}
