// A bigger domain: 1,100 subjects with long strings, written in batches and
// singly (operations well over 1 KiB, so gzip-encoded by m-ld), then a new
// clone alone with the gateway snapshots them all from the backup clone.
import { longText } from '../lib/data.mjs';
import { decodeOperation, Encoding } from '../lib/wire.mjs';

export const name = 'backup-large';
export const timeoutMs = 90000;

const BATCHES = 20;       // transactions of BATCH_SIZE subjects
const BATCH_SIZE = 50;
const SINGLES = 100;      // single-subject transactions, each > 1 KiB
const TEXT = 300;         // characters per batched subject's text
const LONG_TEXT = 2000;   // characters per single subject's text

export default async function (ctx) {
  const { assert } = ctx;
  const { acc, config, domain } = await ctx.namedSubdomain('large');
  const auth = acc.auth;
  // A bare socket records the operations as the relay carries them
  const watch = await ctx.connectedSocket({ domain, auth });

  const a = await ctx.clone(config, { auth });
  await ctx.deadline(a.status.becomes({ outdated: false }), 15000, 'A up to date');
  const t0 = Date.now();
  const want = [];
  for (let b = 0; b < BATCHES; b++) {
    const batch = [];
    for (let j = 0; j < BATCH_SIZE; j++) {
      const i = b * BATCH_SIZE + j;
      batch.push({ '@id': `big${i}`, '@type': 'Doc', n: i, text: longText(i, TEXT),
        part: { '@id': `big${b * BATCH_SIZE}` } });
    }
    await a.write({ '@graph': batch });
    want.push(...batch);
  }
  for (let k = 0; k < SINGLES; k++) {
    const i = BATCHES * BATCH_SIZE + k;
    const s = { '@id': `big${i}`, '@type': 'Doc', n: i, text: longText(i, LONG_TEXT), tags: [`k${k}`, `m${k % 7}`] };
    await a.write(s);
    want.push(s);
  }
  ctx.log(`A wrote ${want.length} subjects in ${Date.now() - t0} ms`);
  const total = BATCHES * BATCH_SIZE + SINGLES;

  // The operations were over 1 KiB and gzip-encoded (what this scenario is for)
  await ctx.until(() => watch.received.filter(r => r.event === 'operation').length >= BATCHES + SINGLES, 20000,
    'the relay carrying all of A\'s operations');
  const ops = watch.received.filter(r => r.event === 'operation').map(r => decodeOperation(r.args[0]));
  const gzipped = ops.filter(op => op.encoding.includes(Encoding.GZIP));
  assert.ok(gzipped.length >= BATCHES + SINGLES,
    `every operation should be gzip-encoded: ${gzipped.length} of ${ops.length}`);
  const biggest = Math.max(...watch.received.filter(r => r.event === 'operation').map(r => r.args[0].length));
  ctx.log(`${ops.length} operations, ${gzipped.length} gzip-encoded, largest payload ${biggest} B`);
  watch.close();
  await ctx.closeClone(a);

  const t1 = Date.now();
  const b = await ctx.clone(config, { auth, timeout: 40000 });
  await ctx.deadline(b.status.becomes({ online: true, outdated: false }), 40000, 'B up to date');
  const tSnap = Date.now() - t1;
  const data = await ctx.settled(b, { settleMs: 500, timeout: 40000 });
  ctx.log(`B snapshot in ${tSnap} ms, all read after ${Date.now() - t1} ms`);
  assert.equal(data.length, total, `B should have all ${total} subjects`);
  ctx.sameData(data, ctx.canonicalSubjects(want), 'B, alone with the gateway, has exactly A\'s data');
  ctx.log('B has exactly A\'s data');
  // Spot checks, read one by one
  for (const i of [0, 1, 499, 999, 1000, total - 1]) {
    const s = await ctx.deadline(ctx.subject(b, `big${i}`), 5000, `describe big${i}`);
    ctx.log(`spot check big${i}: ${JSON.stringify(s)?.slice(0, 80)}`);
    assert.equal(s?.n, i, `big${i}.n`);
    assert.equal(s?.text, longText(i, i < BATCHES * BATCH_SIZE ? TEXT : LONG_TEXT), `big${i}.text`);
  }
}
