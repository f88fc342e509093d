// Per-socket relay limits, on a gateway of its own with low ones (50
// messages/s, burst 100, 64 KiB a message): a bare socket that floods
// `operation` events is told (an `error` event saying which limit) and
// disconnected ("io server disconnect"); another that sends one oversized
// message likewise; the gateway logs both and counts them in
// meld_gateway_relay_limit_refusals_total; meanwhile and afterwards two real
// m-ld clones of the same domain keep syncing both ways.
import { ownGateway } from '../lib/gateway.mjs';
import { TestContext } from '../lib/context.mjs';

export const name = 'relay-flood';
export const timeoutMs = 90000;

const PER_SEC = 50, BURST = 100, MAX_BYTES = 64 * 1024;

/** Resolves with what a socket was told and why it was disconnected */
function cutOff(socket, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket not disconnected within ${ms} ms`)), ms);
    socket.once('disconnect', reason => {
      clearTimeout(timer);
      resolve({ reason, told: socket.received.filter(r => r.event === 'error').map(r => r.args[0]) });
    });
  });
}

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('starts a gateway of its own from the binary');
  const gw = await ownGateway(ctx.gateway.bin, {
    root: 'floodroot',
    env: {
      M_LD_GATEWAY_RELAY__MAX_MESSAGES_PER_SEC: String(PER_SEC),
      M_LD_GATEWAY_RELAY__MESSAGE_BURST: String(BURST),
      M_LD_GATEWAY_RELAY__MAX_MESSAGE_BYTES: String(MAX_BYTES)
    }
  });
  const own = new TestContext({
    origin: `http://127.0.0.1:${gw.port}`, domain: 'ex.org', root: { user: 'floodroot', key: gw.rootKey },
    verbose: ctx.verbose, name: ctx.name
  });
  try {
    await ctx.pollUntil(() => own.http('GET', '/healthz').then(r => r.status === 200, () => false),
      { timeout: 10000, what: 'the flood gateway up' });
    const acc = await own.uuidAccount('flood', 'anon');
    const config = await own.newUuidDomain(acc);
    const domain = config['@domain'];
    const a = await own.clone(config, { auth: null, genesis: true });
    const b = await own.clone(config, { auth: null, genesis: false });
    await a.write({ '@id': 'before', n: 0 });
    await own.untilSubject(b, 'before');

    // A real operation of the domain, replayed: the clones ignore it as
    // already seen, so only the relay's limits are at stake
    const watch = await own.connectedSocket({ domain, id: ctx.uuid() });
    await a.write({ '@id': 'captured', n: 1 });
    await ctx.until(() => watch.received.some(r => r.event === 'operation'), 5000, 'capturing an operation');
    const op = watch.received.find(r => r.event === 'operation').args[0];
    watch.close();

    // The flooder: three times the burst at once
    const flooder = await own.connectedSocket({ domain, id: ctx.uuid(), transports: ['websocket'] });
    const flooded = cutOff(flooder);
    for (let i = 0; i < 3 * BURST; i++)
      flooder.emit('operation', op);
    const f = await flooded;
    assert.equal(f.reason, 'io server disconnect', `the flooder is disconnected by the gateway: ${f.reason}`);
    assert.equal(f.told.length, 1, `the flooder is told once why: ${JSON.stringify(f.told)}`);
    assert.equal(f.told[0].limit, 'rate', JSON.stringify(f.told[0]));
    assert.match(f.told[0].message, /too many messages/);

    // The oversized sender: one message over the limit, under the transport's
    const big = await own.connectedSocket({ domain, id: ctx.uuid(), transports: ['websocket'] });
    const bigCut = cutOff(big);
    big.emit('operation', Buffer.alloc(MAX_BYTES + 16 * 1024, 7));
    const s = await bigCut;
    assert.equal(s.reason, 'io server disconnect', `the oversized sender is disconnected: ${s.reason}`);
    assert.equal(s.told[0]?.limit, 'size', JSON.stringify(s.told));
    assert.match(s.told[0].message, /message too large/);

    // The clones never noticed: they still sync, both ways
    await a.write({ '@id': 'after-a', n: 2 });
    await b.write({ '@id': 'after-b', n: 3 });
    await own.untilSubject(b, 'after-a');
    await own.untilSubject(a, 'after-b');
    await own.untilSubject(b, 'captured');

    const text = await gw.log();
    const lines = text.split('\n').filter(l => l.includes('socket over its limit'));
    assert.ok(lines.some(l => l.includes('exceeded="rate"') || l.includes('exceeded=rate')),
      `a log line for the flood: ${lines.join('\n') || text.slice(-2000)}`);
    assert.ok(lines.some(l => l.includes('size')), `a log line for the oversized message: ${lines.join('\n')}`);
    assert.ok(lines.every(l => l.includes('127.0.0.1')), `the log lines name the client IP: ${lines.join('\n')}`);
    const metrics = own.expect(await own.http('GET', '/metrics', { auth: own.root }), 200).text;
    assert.match(metrics, /meld_gateway_relay_limit_refusals_total\{limit="rate"\} 1\b/, metrics);
    assert.match(metrics, /meld_gateway_relay_limit_refusals_total\{limit="size"\} 1\b/, metrics);
  } finally {
    await own.cleanup();
    await gw.stop();
  }
}
