// Malformed operations on the relay never hurt the backup clone: a bare,
// properly authenticated socket on a named subdomain emits garbage bytes,
// MessagePack of the wrong shape, operations whose clock JSON or other
// fields are wrong, and a replay of one of the domain's own (since deleted)
// operations. Each malformed one is dropped with a warning in the gateway's
// log; afterwards the gateway process is alive and a new clone, alone with
// the gateway, gets exactly the good data, before and after a restart.
import { randomBytes } from 'node:crypto';
import { encode, decodeOperation, forgeOperation } from '../lib/wire.mjs';

export const name = 'backup-malformed';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.createAccount('malformed');
  const auth = acc.auth;
  const opsOf = socket => socket.received.filter(r => r.event === 'operation').map(r => r.args[0]);

  // Clone A writes the good data, with a subject it later deletes
  const config = await ctx.putSubdomain(acc, ctx.freshName('sd'));
  const domain = config['@domain'];
  const watch = await ctx.connectedSocket({ domain, auth });
  const a = await ctx.clone(config, { auth });
  await ctx.deadline(a.status.becomes({ outdated: false }), 15000, 'A up to date');
  await a.write({ '@id': 'victim', name: 'to be deleted' });
  await ctx.until(() => opsOf(watch).length >= 1, 5000, 'capturing A\'s first operation');
  const victimOp = opsOf(watch)[0];
  const good = [];
  for (let i = 0; i < 5; i++) {
    const s = { '@id': `good${i}`, i, text: `good subject ${i}` };
    await a.write(s);
    good.push(s);
  }
  await a.write({ '@delete': { '@id': 'victim', '?p': '?o' }, '@where': { '@id': 'victim', '?p': '?o' } });
  const want = ctx.canonicalSubjects(good);
  ctx.sameData(await ctx.allSubjects(a), want, 'A has the good data');
  await ctx.closeClone(a);
  watch.close();
  const decoded = decodeOperation(victimOp);
  ctx.log('a real operation:', JSON.stringify({ ...decoded, enc: undefined, update: decoded.update.length }));

  // The attacker: a bare socket with the account's key, never present
  const bad = await ctx.connectedSocket({ domain, auth, id: 'mallory' });
  const silent = [];
  /**
   * Emits each payload on its own; with a spawned gateway, waits (up to 1 s)
   * for the gateway to log a warning about it, and notes those dropped
   * without a word.
   */
  const emitEach = async (items, { expectWarning = true } = {}) => {
    for (const [label, args, warns = expectWarning] of items) {
      const before = ctx.gateway ? (await ctx.gatewayLog()).length : 0;
      bad.emit('operation', ...args);
      // The relay has taken the operation once a later send is acked
      assert.deepEqual(await ctx.emitAcked(bad, 'send',
        [{ fromId: 'mallory', toId: 'nobody', messageId: label }, encode(0)]), [null], 'send ack');
      if (!ctx.gateway || !warns)
        continue;
      let logged = false;
      for (const t0 = Date.now(); !logged && Date.now() - t0 < 1000; await ctx.sleep(50))
        logged = /\bWARN\b/.test((await ctx.gatewayLog()).slice(before));
      if (!logged)
        silent.push(label);
    }
    await ctx.sleep(200); // the backup clone takes what the relay handed it
  };
  const check = async what => {
    assert.equal(ctx.gateway?.exit ?? null, null, `gateway process alive after ${what}`);
    ctx.expect(await ctx.http('GET', '/healthz'), 200);
    const { meld, data } = await ctx.freshClone(config, { auth });
    ctx.sameData(data, want, `after ${what}, a new clone alone with the gateway has exactly the good data`);
    await ctx.closeClone(meld);
  };

  // 1. Garbage and wrong shapes
  await emitEach([
    ['1 random byte', [randomBytes(1)]],
    ['64 random bytes', [randomBytes(64)]],
    ['5000 random bytes', [randomBytes(5000)]],
    ['empty buffer', [Buffer.alloc(0)]],
    ['a string', ['a string']],
    ['a number', [42]],
    ['null', [null]],
    ['a JSON object', [{ prev: 1 }]],
    ['no payload', []],
    ['two payloads', [randomBytes(8), randomBytes(8)]],
    ['msgpack array', [encode([1, 2, 3])]],
    ['msgpack string', [encode('text')]],
    ['msgpack empty map', [encode({})]],
    ['msgpack map, wrong types', [encode({ prev: 'x', enc: 5, attr: null })]],
    ['enc not msgpack', [encode({ prev: 1, enc: randomBytes(40), attr: null })]],
    ['enc a map', [encode({ prev: 1, enc: encode({ not: 'an array' }), attr: null })]],
    ['enc an empty array', [encode({ prev: 1, enc: encode([]), attr: null })]],
    ['negative prev, attr a string', [encode({ prev: -1, enc: decoded.enc, attr: 'not an object' })]]
  ]);
  await check('garbage and wrong-shape operations');

  // 2. A real operation's structure with a bad clock or other bad fields.
  // Not warned about: what m-ld itself accepts (any version >= 3; a clock
  // JSON that parses, like [1,[2,[3]]], which is a fork of a non-ID with 1
  // tick and a fork (2, ID with 3 ticks)); such an operation is a duplicate
  // or never causally ready, and is not applied either way.
  await emitEach([
    ...[null, 'not a clock', 42, true, {}, { tick: 'x' }, [0, [1, 'x']], [1, 2, 3, 4],
      [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]], ['x'], [0, [null, 1]]]
      .map(time => [`clock ${JSON.stringify(time)}`, [forgeOperation(victimOp, { time })]]),
    ['parseable alien clock [1,[2,[3]]]', [forgeOperation(victimOp, { time: [1, [2, [3]]] })], false],
    ['update random bytes', [forgeOperation(victimOp, { update: randomBytes(50) })]],
    ['unknown encoding', [forgeOperation(victimOp, { encoding: [7, 7] })]],
    ['gzip flag on plain msgpack', [forgeOperation(victimOp, { encoding: [1, 2] })]],
    ['version 2 (m-ld refuses < 3)', [forgeOperation(victimOp, { version: 2 })]],
    ['version 99 (m-ld accepts >= 3)', [forgeOperation(victimOp, { version: 99 })], false]
  ]);
  await check('operations with bad clocks and fields');

  // 3. A replay of the domain's own first operation (the victim's insert,
  // since deleted): a duplicate, it must not resurrect the victim. (Dropping
  // a duplicate quietly is normal: revups deliver them too.)
  await emitEach([['replayed own operation', [victimOp]]], { expectWarning: false });
  await check('a replayed (duplicate) operation');

  // The store survived it all
  if (ctx.gateway) {
    await ctx.restartGateway({ signal: 'SIGTERM' });
    await check('a restart');
  }
  const metrics = await ctx.http('GET', '/metrics');
  ctx.log('malformed counter:', metrics.text.split('\n').filter(l => /malformed/.test(l)).join(' '));
  assert.deepEqual(silent, [], 'every malformed operation should be dropped with a warning in the gateway log');
}
