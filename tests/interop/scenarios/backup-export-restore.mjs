// Backup round trip between two gateways: a JS clone writes 1,000 subjects
// into a named subdomain on gateway 1; the account exports it (a token
// delegate and another account may not); a second gateway with the same
// gateway domain gets the account from its root and the export restored. A
// fresh JS clone there, alone with the restored backup clone, reads exactly
// the same data. A corrupted export (one flipped byte) is refused and leaves
// no subdomain; restoring over an existing subdomain is 409. And the domain
// moves: A, which wrote more on gateway 1 after the export, comes back on
// gateway 2 and its later writes reach the restored backup clone.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ownGateway } from '../lib/gateway.mjs';
import { TestContext } from '../lib/context.mjs';
import { basic } from '../lib/http.mjs';
import { StateApi } from '../lib/cloneapi.mjs';

export const name = 'backup-export-restore';
export const timeoutMs = 150000;

const BATCHES = 10;
const BATCH_SIZE = 100;
const TYPE = 'application/vnd.meld-gateway.backup';

/** Raw bytes over HTTP (the backup is not JSON) */
async function call(origin, method, path, auth, body) {
  const headers = { authorization: typeof auth === 'string' ? auth : basic(auth) };
  if (body)
    headers['content-type'] = TYPE;
  const res = await fetch(origin + path, { method, headers, body, signal: AbortSignal.timeout(60000) });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('starts a second gateway from the binary');
  const { acc, name, config, domain } = await ctx.namedSubdomain('bk');
  const path = `${ctx.subdomainPath(acc, name)}/backup`;
  const [backupId] = await ctx.presenceOf(domain, acc.auth);

  // 1,000 subjects from a JS clone, in batches, then updates and deletes
  const a = await ctx.clone(config, { auth: acc.auth });
  await ctx.deadline(a.status.becomes({ outdated: false }), 15000, 'A up to date');
  const want = new Map();
  for (let b = 0; b < BATCHES; b++) {
    const batch = [];
    for (let j = 0; j < BATCH_SIZE; j++) {
      const i = b * BATCH_SIZE + j;
      batch.push({ '@id': `item${i}`, '@type': i % 2 ? 'Odd' : 'Even', n: i, label: `Item ${i} «${'x'.repeat(i % 40)}»`,
        tags: [`t${i % 7}`, `u${i % 3}`], ratio: i / 8, next: { '@id': `item${(i + 1) % 1000}` } });
    }
    await a.write({ '@graph': batch });
    batch.forEach(s => want.set(s['@id'], s));
  }
  for (let i = 0; i < 20; i++) {
    await a.write({ '@delete': { '@id': `item${i}`, label: want.get(`item${i}`).label },
      '@insert': { '@id': `item${i}`, label: `Renamed ${i}` } });
    want.set(`item${i}`, { ...want.get(`item${i}`), label: `Renamed ${i}` });
  }
  // Delete one subject and write another: still 1,000
  await a.write({ '@delete': { '@id': 'item999', '?p': '?o' }, '@where': { '@id': 'item999', '?p': '?o' } });
  want.delete('item999');
  await a.write({ '@id': 'extra', '@type': 'Odd', n: -1, label: 'Extra' });
  want.set('extra', { '@id': 'extra', '@type': 'Odd', n: -1, label: 'Extra' });
  const wanted = ctx.canonicalSubjects([...want.values()]);
  assert.equal(wanted.length, 1000);
  ctx.sameData(await ctx.allSubjects(a), wanted, 'A has what it wrote');
  // The backup clone has it all before the export
  const api = new StateApi(ctx, acc, name);
  await api.until(all => ctx.stableJson(all) === ctx.stableJson(wanted), 'has A\'s 1,000 subjects', 30000);
  await ctx.closeClone(a);

  // Export with the account key
  const exported = await call(ctx.origin, 'GET', path, acc.auth);
  assert.equal(exported.status, 200, exported.bytes.toString().slice(0, 300));
  assert.equal(exported.headers.get('content-type'), TYPE);
  assert.match(exported.headers.get('content-disposition') ?? '', /^attachment; filename="/);
  const backup = exported.bytes;
  const lines = backup.toString('utf8').trimEnd().split('\n');
  const header = JSON.parse(lines[0]), trailer = JSON.parse(lines.at(-1));
  assert.equal(header.format, 'meld-gateway-backup');
  assert.equal(header.version, 1);
  assert.equal(header.domain, domain);
  assert.equal(header.cloneId, backupId, 'the header names the backup clone');
  assert.equal(trailer.records, lines.length - 2);
  ctx.log(`export: ${backup.length} bytes, ${trailer.records} records`);

  // A writes more on gateway 1 after the export, and leaves
  const a1 = await ctx.clone(config, { auth: acc.auth, id: a.id, backend: a.backend });
  await ctx.deadline(a1.status.becomes({ outdated: false }), 15000, 'A back up to date');
  const late = Array.from({ length: 10 }, (_, i) => ({ '@id': `late${i}`, '@type': 'Late', n: 2000 + i }));
  await a1.write({ '@graph': late });
  await api.until(all => all.length === 1010, 'has A\'s later writes', 15000);
  await ctx.closeClone(a1);

  // Refused: another account, and a token delegate of this one
  const other = await ctx.createAccount('bk-other');
  assert.equal((await call(ctx.origin, 'GET', path, other.auth)).status, 403, 'another account exports');
  await ctx.patchAccount(acc, { '@insert': { remotesAuth: 'jwt' } });
  const jwtConfig = ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, name), { auth: acc.auth }), 200).json;
  const token = jwtConfig.io?.opts?.auth?.jwt;
  assert.equal(typeof token, 'string', 'a token for the delegate');
  assert.equal((await call(ctx.origin, 'GET', path, `Bearer ${token}`)).status, 403, 'a token delegate exports');

  // A second gateway with the same gateway domain
  const gw = await ownGateway(ctx.gateway.bin, { root: 'bkroot', env: { M_LD_GATEWAY_GATEWAY: ctx.domain } });
  const origin = `http://127.0.0.1:${gw.port}`;
  const ctx2 = new TestContext({ origin, domain: ctx.domain, root: { user: 'bkroot', key: gw.rootKey },
    verbose: ctx.verbose, name: `${ctx.name}@2` });
  try {
    await ctx.pollUntil(() => fetch(`${origin}/healthz`).then(r => r.status === 200, () => false),
      { timeout: 10000, what: 'gateway 2 up' });
    // Root mints the same account there
    const minted = ctx2.expect(await ctx2.http('POST', `/api/v1/user/${acc.name}/key`, { auth: ctx2.root }), 200);
    const acc2 = { name: acc.name, key: minted.json.auth.key, auth: { user: acc.name, key: minted.json.auth.key } };
    const api2 = new StateApi(ctx2, acc2, name);

    // One flipped byte: refused, no subdomain left behind
    const damaged = Buffer.from(backup);
    damaged[Math.floor(damaged.length / 2)] ^= 0x01;
    const refused = await call(origin, 'POST', path, acc2.auth, damaged);
    assert.equal(refused.status, 400, `a corrupted backup: ${refused.bytes.toString().slice(0, 200)}`);
    ctx.log(`corrupted backup refused: ${refused.bytes.toString()}`);
    assert.equal((await api2.getRaw({ '@describe': 'x' })).status, 404, 'no subdomain after the refusal');
    const details = ctx2.expect(await ctx2.http('GET', `/api/v1/user/${acc.name}`, { auth: acc2.auth }), 200).json;
    assert.deepEqual(details.subdomain ?? [], [], 'the account lists no subdomain after the refusal');
    // Another account may not restore into this one
    const other2 = ctx2.expect(await ctx2.http('POST', '/api/v1/user/bk-other/key', { auth: ctx2.root }), 200).json;
    assert.equal((await call(origin, 'POST', path, { user: 'bk-other', key: other2.auth.key }, backup)).status, 403);

    // The restore
    const restored = await call(origin, 'POST', path, acc2.auth, backup);
    assert.equal(restored.status, 201, restored.bytes.toString().slice(0, 300));
    const answer = JSON.parse(restored.bytes.toString());
    assert.equal(answer['@domain'], domain);
    assert.equal(answer.records, trailer.records);
    await ctx.pollUntil(async () => (await readFile(join(gw.dataPath, 'audit.log'), 'utf8').catch(() => ''))
      .includes('"subdomain restored"'), { timeout: 5000, what: 'the restore in gateway 2\'s audit.log' });
    assert.deepEqual(await ctx2.presenceOf(domain, acc2.auth), [backupId],
      'the restored backup clone, with its identity, is present alone on gateway 2');

    // A fresh JS clone on gateway 2, with nobody else online, reads it all
    const { meld: b, data } = await ctx2.freshClone(config, { auth: acc2.auth, timeout: 40000 },
      { timeout: 40000, settleMs: 500 });
    assert.equal(data.length, 1000);
    ctx.sameData(data, wanted, 'B on gateway 2 has exactly what A wrote on gateway 1');
    // It goes on: B writes, the restored backup clone has it
    await b.write({ '@id': 'after-restore', by: 'B' });
    await api2.until(all => all.some(s => s['@id'] === 'after-restore'), 'has B\'s write');
    await ctx2.closeClone(b);

    // A comes back, on gateway 2: its writes after the export reach the
    // restored backup clone, and B's write reaches A
    const a2 = await ctx2.clone(config, { auth: acc2.auth, id: a.id, backend: a.backend, timeout: 30000 });
    await ctx.deadline(a2.status.becomes({ outdated: false }), 30000, 'A up to date on gateway 2');
    const all = ctx.canonicalSubjects([...want.values(), ...late, { '@id': 'after-restore', by: 'B' }]);
    await api2.until(got => ctx.stableJson(got) === ctx.stableJson(all), 'has A\'s later writes and B\'s', 30000);
    await ctx.pollUntil(async () => ctx.stableJson(await ctx2.allSubjects(a2)) === ctx.stableJson(all),
      { timeout: 15000, what: 'A on gateway 2 having B\'s write' });
    await ctx2.closeClone(a2);

    // Restoring over an existing subdomain
    const again = await call(origin, 'POST', path, acc2.auth, backup);
    assert.equal(again.status, 409, again.bytes.toString().slice(0, 200));
    assert.equal((await api2.all()).length, 1011, 'the existing subdomain is unchanged');
  } finally {
    await ctx2.cleanup();
    await gw.stop();
    await rm(gw.dir, { recursive: true, force: true });
  }
}
