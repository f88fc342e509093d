// Every Clone API rejection path: bad auth 401, another account 403, unknown
// subdomain 404, malformed query JSON 400, JSON that is not json-rql 400,
// invalid writes 400, an oversized body 413. After each: the data is
// unchanged (in the gateway and in a connected JS clone), no lock is left,
// and the subdomain's Clone API still reads and writes.
import { FLINTSTONES, StateApi, writeFlintstones } from '../lib/cloneapi.mjs';

export const name = 'clone-api-rejections';
export const timeoutMs = 120000;

export default async function (ctx) {
  const { assert } = ctx;
  const { acc, name, config } = await ctx.namedSubdomain('cr');
  const stranger = await ctx.createAccount('crx');
  await ctx.putSubdomain(stranger, name); // same name, another account
  const api = new StateApi(ctx, acc, name);
  const a = await ctx.clone(config, { auth: acc.auth });
  await ctx.deadline(a.status.becomes({ outdated: false }), 15000, 'A up to date');
  await writeFlintstones(a);
  const baseline = await ctx.allSubjects(a);
  assert.equal(baseline.length, FLINTSTONES.length);
  await api.until(all => ctx.stableJson(all) === ctx.stableJson(baseline), 'equal to A\'s data');
  const etag = await api.etag();

  const [app, rest] = acc.key.split('.');
  const wrongSecret = { user: acc.name, key: `${app}.${rest.split(':')[0]}:${'a'.repeat(74)}` };
  const describeFred = JSON.stringify({ '@describe': 'fred' });
  const write = { '@id': 'intruder', name: 'Intruder' };

  /** Asserts nothing changed and the Clone API still works */
  const unharmed = async what => {
    assert.deepEqual(await api.all(), baseline, `${what}: gateway data unchanged`);
    assert.equal(await api.etag(), etag, `${what}: ETag unchanged`);
    assert.equal(await api.locked(), false, `${what}: no lock left`);
    assert.equal((await api.read({ '@describe': 'fred' }))[0]?.name, 'Fred', `${what}: reads still work`);
  };
  const refused = async (what, reply, status) => {
    const r = await reply;
    assert.equal(r.status, status, `${what}: ${r.what}: ${r.text.slice(0, 200)}`);
    if (r.text)
      assert.ok(typeof r.json?.message === 'string', `${what}: a JSON error body: ${r.text.slice(0, 200)}`);
    ctx.log(`${what} → ${r.status} ${r.text.slice(0, 120)}`);
    return r;
  };
  /** Every Clone API request, with the given auth and subdomain path */
  const everything = (auth, path = api.path) => [
    ['GET state', ctx.http('GET', `${path}/state?q=${encodeURIComponent(describeFred)}`, { auth })],
    ['GET state?lock', ctx.http('GET', `${path}/state?lock`, { auth })],
    ['POST state', ctx.http('POST', `${path}/state`, { auth, body: write })],
    ['POST state?lock', ctx.http('POST', `${path}/state?lock`, { auth, body: write })],
    ['POST poll', ctx.http('POST', `${path}/poll`, { auth })],
    ['DELETE state?lock', ctx.http('DELETE', `${path}/state?lock`, { auth })],
    ['GET updates', ctx.http('GET', `${path}/updates`, { auth, timeout: 5000 })]
  ];

  // Bad auth: none, a wrong secret, garbage
  for (const [how, auth] of [['no credentials', undefined], ['a wrong secret', wrongSecret],
    ['a garbage header', 'Basic !!!'], ['Bearer nonsense', 'Bearer abc.def.ghi']]) {
    for (const [what, reply] of everything(auth))
      await refused(`${what} with ${how}`, reply, 401);
    await unharmed(`after ${how}`);
  }
  // Another account's key (its own subdomain of the same name is not ours)
  for (const [what, reply] of everything(stranger.auth))
    await refused(`${what} with another account's key`, reply, 403);
  await unharmed('after another account');
  // Unknown subdomain
  const unknown = ctx.subdomainPath(acc, ctx.freshName('nosuch'));
  for (const [what, reply] of everything(acc.auth, unknown))
    await refused(`${what} on an unknown subdomain`, reply, 404);
  await unharmed('after an unknown subdomain');

  // Malformed query JSON, and JSON that is not json-rql
  for (const q of ['{', '{"@describe": "fred"', 'fred', '', '[1,', '{"@describe": fred}'])
    await refused(`query ${JSON.stringify(q)}`, api.getRaw(q), 400);
  for (const q of ['{}', '[]', '1', '"fred"', 'null', '{"@describe": 5}', '{"@select": "?s"}',
    '{"@describe": "?s", "@where": 5}', '{"@select": "?s", "@where": {"@id": "?s"}, "@limit": -1}',
    '{"@describe": "fred", "@frobnicate": 1}', '{"@insert": {"@id": "x", "p": 1}}',
    '{"@select": "?s", "@where": {"@graph": {"@id": "?s"}, "@filter": {"@frob": ["?s", 1]}}}'])
    await refused(`not json-rql ${q}`, api.getRaw(q), 400);
  await refused('no query at all', ctx.http('GET', `${api.path}/state`, { auth: acc.auth }), 405);
  await unharmed('after bad queries');

  // Invalid writes (plain and ?lock: neither may leave a lock)
  for (const body of ['{', 'not json', '', '[1, 2]', '5', '"text"', '{"@insert": 5}', '{"@delete": "fred"}',
    '{"@describe": "fred"}', '{"@id": "x", "@type": 5}', '{"@insert": {"@id": "x", "p": {"@value": 1, "@type": 7}}}']) {
    await refused(`write ${body}`, api.post(body), 400);
    await refused(`write ?lock ${body}`, api.post(body, { lock: true }), 400);
  }
  await unharmed('after invalid writes');
  // A stale If-Match with ?lock takes no lock either
  await refused('stale If-Match with ?lock', api.post(write, { lock: true, headers: { 'if-match': '"1"' } }), 412);
  await unharmed('after a stale If-Match');

  // An oversized body
  const huge = JSON.stringify({ '@id': 'huge', text: 'x'.repeat(2 * 1024 * 1024) });
  await refused('an oversized write', api.post(huge), 413);
  await refused('an oversized write with ?lock', api.post(huge, { lock: true }), 413);
  await unharmed('after an oversized write');

  // A's data never changed, and a good write still goes through to A
  ctx.sameData(await ctx.allSubjects(a), baseline, 'A unchanged by every refused request');
  ctx.expect(await api.post({ '@id': 'fred', nick: 'Freddie' }), 200);
  await ctx.untilSubject(a, 'fred', s => [].concat(s?.nick ?? []).includes('Freddie'));
  ctx.expect(await api.poll(), 201);
  ctx.expect(await api.unlock(), 200);
}
