// The relay's routing: `operation` goes to every other socket of the domain;
// `send`/`reply`/`notify` go only to the socket whose @id is params.toId, in
// the same domain; payloads arrive as identical binary; the sender's ack is
// exactly `null`. Mixed transports (polling-only, websocket-only, upgrading).
import { randomBytes } from 'node:crypto';

export const name = 'routing';
export const timeoutMs = 60000;

const asBuffer = x =>
  Buffer.isBuffer(x) ? x :
    x instanceof ArrayBuffer ? Buffer.from(new Uint8Array(x)) :
      ArrayBuffer.isView(x) ? Buffer.from(x.buffer, x.byteOffset, x.byteLength) : null;

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.uuidAccount('route', 'anon');
  const domain = (await ctx.newUuidDomain(acc))['@domain'];
  const elsewhere = (await ctx.newUuidDomain(acc))['@domain'];

  const alpha = await ctx.connectedSocket({ domain, id: 'alpha' });
  const beta = await ctx.connectedSocket({ domain, id: 'beta', transports: ['polling'] });
  const gamma = await ctx.connectedSocket({ domain, id: 'gamma', transports: ['websocket'] });
  // Same ids, other domain: must never receive anything from `domain`
  const xBeta = await ctx.connectedSocket({ domain: elsewhere, id: 'beta' });
  const xAlpha = await ctx.connectedSocket({ domain: elsewhere, id: 'alpha', transports: ['websocket'] });
  const all = [alpha, beta, gamma, xBeta, xAlpha];
  // Let the default-transport socket upgrade, and the presence events settle
  await ctx.sleep(300);

  /**
   * Runs `act`, waits until each socket in `expected` (Map socket → number of
   * events) has received them, then a quiet period; returns the new
   * non-presence events per socket, asserting that every other socket got none.
   */
  const deliveries = async (what, act, expected) => {
    const mark = new Map(all.map(s => [s, s.received.length]));
    const fresh = s => s.received.slice(mark.get(s)).filter(r => r.event !== 'presence');
    const result = await act();
    try {
      await ctx.until(() => [...expected].every(([s, n]) => fresh(s).length >= n), 5000, what);
    } catch {
      assert.fail(`${what}: expected deliveries missing: ` + [...expected].map(([s, n]) =>
        `${s.mid} got ${fresh(s).length}/${n}`).join(', '));
    }
    await ctx.sleep(300); // anything that should not arrive, would by now
    for (const s of all) {
      const want = expected.get(s) ?? 0;
      assert.equal(fresh(s).length, want, `${what}: ${s.mid}` +
        `${s === xBeta || s === xAlpha ? ' (other domain)' : ''} got ${fresh(s).length} events, ` +
        `expected ${want}: ${fresh(s).map(r => r.event).join(', ')}`);
    }
    return { result, got: new Map(all.map(s => [s, fresh(s)])) };
  };

  const checkPayload = (what, received, sent) => {
    const buf = asBuffer(received);
    assert.ok(buf, `${what}: payload should be binary, got ${typeof received}: ${String(received).slice(0, 80)}`);
    assert.ok(buf.equals(sent), `${what}: payload differs (sent ${sent.length} bytes, ` +
      `got ${buf.length}, first ${buf.subarray(0, 16).toString('hex')} vs ${sent.subarray(0, 16).toString('hex')})`);
  };

  // --- operation: broadcast to the others in the domain
  for (const [sender, size] of [[alpha, 1], [alpha, 4096], [beta, 2000], [gamma, 300000], [beta, 300000], [gamma, 900000]]) {
    const payload = randomBytes(size);
    const others = [alpha, beta, gamma].filter(s => s !== sender);
    const what = `operation of ${size} bytes from ${sender.mid}`;
    const { got } = await deliveries(what, () => sender.emit('operation', payload),
      new Map(others.map(s => [s, 1])));
    for (const s of others) {
      const [r] = got.get(s);
      assert.equal(r.event, 'operation', `${what} at ${s.mid}`);
      assert.equal(r.args.length, 1, `${what} at ${s.mid}: args ${r.args.length}`);
      checkPayload(`${what} at ${s.mid}`, r.args[0], payload);
    }
  }

  // --- send / reply / notify: unicast to toId, ack null
  let n = 0;
  const unicasts = [
    ['send', alpha, beta, id => ({ fromId: 'alpha', toId: 'beta', messageId: id })],
    ['reply', beta, alpha, id => ({ fromId: 'beta', toId: 'alpha', messageId: id, sentMessageId: `s${id}` })],
    ['notify', gamma, beta, id => ({ toId: 'beta', fromId: 'gamma', channelId: id })],
    ['send', beta, gamma, id => ({ fromId: 'beta', toId: 'gamma', messageId: id })],
    ['notify', alpha, gamma, id => ({ toId: 'gamma', fromId: 'alpha', channelId: id })],
    ['reply', gamma, alpha, id => ({ fromId: 'gamma', toId: 'alpha', messageId: id, sentMessageId: `s${id}` })]
  ];
  for (const [event, from, to, makeParams] of unicasts) {
    const params = makeParams(`m${++n}-${ctx.uuid()}`);
    const payload = randomBytes(300 + n * 100);
    const what = `${event} ${from.mid} → ${to.mid}`;
    const { result: ack, got } = await deliveries(what,
      () => ctx.emitAcked(from, event, [params, payload]), new Map([[to, 1]]));
    assert.deepEqual(ack, [null], `${what}: sender's ack should be exactly [null], got ${JSON.stringify(ack)}`);
    const [r] = got.get(to);
    assert.equal(r.event, event, `${what}: event name`);
    assert.equal(r.args.length, 2,
      `${what}: expected (params, payload) and no ack request, got ${r.args.length} args`);
    assert.deepEqual(r.args[0], params, `${what}: params must arrive unchanged`);
    checkPayload(what, r.args[1], payload);
  }

  // --- unicast to an id nobody has (in this domain): ack null, no delivery
  for (const [event, params] of [
    ['send', { fromId: 'alpha', toId: 'nobody', messageId: 'lost-1' }],
    ['reply', { fromId: 'alpha', toId: 'nobody', messageId: 'lost-2', sentMessageId: 'x' }],
    ['notify', { toId: 'nobody', fromId: 'alpha', channelId: 'lost-3' }]
  ]) {
    const { result: ack } = await deliveries(`${event} to an absent id`,
      () => ctx.emitAcked(alpha, event, [params, randomBytes(64)]), new Map());
    assert.deepEqual(ack, [null], `${event} to an absent id: ack should be [null], got ${JSON.stringify(ack)}`);
  }

  // --- the other domain routes on its own, and only there
  const payload = randomBytes(777);
  const { result: ack, got } = await deliveries('send within the other domain',
    () => ctx.emitAcked(xAlpha, 'send', [{ fromId: 'alpha', toId: 'beta', messageId: 'x1' }, payload]),
    new Map([[xBeta, 1]]));
  assert.deepEqual(ack, [null]);
  checkPayload('send within the other domain', got.get(xBeta)[0].args[1], payload);
  const op = randomBytes(99);
  await deliveries('operation in the other domain',
    () => xBeta.emit('operation', op), new Map([[xAlpha, 1]]));
}
