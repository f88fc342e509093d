// Clone API reads and writes against a real JS clone: a JS clone writes the
// Flintstones; for each json-rql query form, GET …/state gives the same
// subjects or bindings as the JS clone's own read (order normalised; JS 0.10
// ignores @orderBy/@limit/@offset, so those are checked against expectations).
// A POST …/state reaches the JS clone; a stale If-Match is 412 and changes
// nothing.
import { ALL, FLINTSTONES, StateApi, canonicalRows, writeFlintstones } from '../lib/cloneapi.mjs';

export const name = 'clone-api-queries';
export const timeoutMs = 90000;

/** [what, query, kind]: kind 'subjects' (describe, construct) or 'rows' (select) */
const QUERIES = [
  ['describe by id', { '@describe': 'fred' }, 'subjects'],
  ['describe of a subject with several types', { '@describe': 'pebbles' }, 'subjects'],
  ['describe of an unknown id', { '@describe': 'nobody' }, 'subjects'],
  ['describe all', ALL, 'subjects'],
  ['describe with @where and @type', { '@describe': '?p', '@where': { '@id': '?p', '@type': 'Person' } }, 'subjects'],
  ['describe through a reference',
    { '@describe': '?s', '@where': { '@id': 'wilma', spouse: { '@id': '?s' } } }, 'subjects'],
  ['select with variables', { '@select': ['?p', '?n'], '@where': { '@id': '?p', name: '?n' } }, 'rows'],
  ['select one variable of a multi-valued property',
    { '@select': '?k', '@where': { '@id': 'barney', nick: '?k' } }, 'rows'],
  ['select a variable property', { '@select': '?prop', '@where': { '@id': 'dino', '?prop': { '@id': 'fred' } } }, 'rows'],
  ['select the @type', { '@select': '?t', '@where': { '@id': 'pebbles', '@type': '?t' } }, 'rows'],
  ['@where joining subjects by reference, with @type',
    { '@select': ['?p', '?sn'], '@where': [
      { '@id': '?p', '@type': 'Person', spouse: { '@id': '?s' } }, { '@id': '?s', name: '?sn' }] }, 'rows'],
  ['@where with a nested reference',
    { '@select': ['?pet', '?on'], '@where': { '@id': '?pet', '@type': 'Pet', owner: { '@id': '?o', name: '?on' } } },
    'rows'],
  ['@filter @gt', { '@select': ['?p', '?a'], '@where': {
    '@graph': { '@id': '?p', age: '?a' }, '@filter': { '@gt': ['?a', 39] } } }, 'rows'],
  ['@filter @lte and @neq', { '@select': '?p', '@where': {
    '@graph': { '@id': '?p', age: '?a', name: '?n' }, '@filter': [{ '@lte': ['?a', 41] }, { '@neq': ['?n', 'Betty'] }] } },
  'rows'],
  ['@filter on a double', { '@select': '?p', '@where': {
    '@graph': { '@id': '?p', height: '?h' }, '@filter': { '@lt': ['?h', 5.9] } } }, 'rows'],
  ['@filter @in', { '@select': ['?p', '?n'], '@where': {
    '@graph': { '@id': '?p', name: '?n' }, '@filter': { '@in': ['?n', 'Fred', 'Dino', 'Nobody'] } } }, 'rows'],
  ['@values', { '@select': ['?p', '?a'], '@where': {
    '@graph': { '@id': '?p', name: '?n', age: '?a' }, '@values': [{ '?n': 'Fred' }, { '?n': 'Betty' }] } }, 'rows'],
  ['@values of references', { '@select': '?n', '@where': {
    '@graph': { '@id': '?p', name: '?n' }, '@values': [{ '?p': { '@id': 'wilma' } }, { '?p': { '@id': 'dino' } }] } },
  'rows'],
  ['@construct', { '@construct': { '@id': '?p', name: '?n' },
    '@where': { '@id': '?p', '@type': 'Person', name: '?n' } }, 'subjects'],
  ['@construct with a reference', { '@construct': { '@id': '?p', married: { '@id': '?s' } },
    '@where': { '@id': '?p', spouse: { '@id': '?s' } } }, 'subjects']
];

const withoutBlankId = ({ '@id': id, ...row }) => id == null || String(id).startsWith('_:') ? row : { '@id': id, ...row };

export default async function (ctx) {
  const { assert } = ctx;
  const { acc, name, config } = await ctx.namedSubdomain('cq');
  const api = new StateApi(ctx, acc, name);
  const a = await ctx.clone(config, { auth: acc.auth });
  await ctx.deadline(a.status.becomes({ outdated: false }), 15000, 'A up to date');
  await writeFlintstones(a);
  const jsAll = await ctx.allSubjects(a);
  assert.equal(jsAll.length, FLINTSTONES.length, 'A holds what it wrote');
  await api.until(all => ctx.stableJson(all) === ctx.stableJson(jsAll), 'equal to A\'s data');

  const jsRead = async query => {
    await ctx.sleep(0);
    await new Promise(resolve => setImmediate(resolve));
    return a.read(query);
  };
  for (const [what, query, kind] of QUERIES) {
    const [mine, theirs] = [await api.read(query), await jsRead(query)];
    ctx.log(`${what}: ${mine.length} results`);
    if (kind === 'subjects')
      ctx.sameData(ctx.canonicalSubjects(mine), ctx.canonicalSubjects(theirs), `${what} (${JSON.stringify(query)})`);
    else // JS 0.10 gives each binding a blank-node @id; the gateway does not
      assert.deepEqual(canonicalRows(mine), canonicalRows(theirs.map(withoutBlankId)),
        `${what} (${JSON.stringify(query)})`);
    // query= is the same as q=
    if (what === 'describe by id')
      assert.deepEqual(await api.read(query, { param: 'query' }), mine, 'query= as q=');
  }

  // Ordering and paging: JS 0.10 ignores them, so against expectations
  const names = async extra => (await api.read({
    '@select': '?n', '@where': { '@id': '?p', '@type': 'Person', name: '?n' }, ...extra
  })).map(r => r['?n']);
  assert.deepEqual(await names({ '@orderBy': '?n' }), ['Barney', 'Betty', 'Fred', 'Pebbles', 'Wilma'], '@orderBy');
  assert.deepEqual(await names({ '@orderBy': { '@desc': '?n' } }), ['Wilma', 'Pebbles', 'Fred', 'Betty', 'Barney'],
    '@orderBy @desc');
  assert.deepEqual(await names({ '@orderBy': '?n', '@limit': 2, '@offset': 1 }), ['Betty', 'Fred'],
    '@orderBy, @limit and @offset');
  assert.deepEqual(await names({ '@orderBy': '?n', '@offset': 10 }), [], '@offset past the end');
  const byAge = (await api.read({ '@describe': '?p', '@where': { '@id': '?p', age: '?a' }, '@orderBy': '?a',
    '@limit': 3 })).map(s => s['@id']);
  assert.deepEqual(byAge, ['pebbles', 'betty', 'wilma'], 'describe ordered by age, limited');

  // A POST …/state reaches the JS clone
  const bammBamm = { '@id': 'bammbamm', '@type': ['Person', 'Child'], name: 'Bamm-Bamm', age: 2,
    parent: [{ '@id': 'barney' }, { '@id': 'betty' }] };
  const posted = ctx.expect(await api.post(bammBamm), 200);
  assert.match(posted.headers.get('etag') ?? '', /^"\d+"$/, 'ETag after a write');
  const seen = await ctx.untilSubject(a, 'bammbamm');
  ctx.sameData(ctx.canonicalSubjects([seen]), ctx.canonicalSubjects([bammBamm]), 'Bamm-Bamm in A');
  // …as does a @delete/@insert/@where
  ctx.expect(await api.post({ '@delete': { '@id': 'fred', age: '?a' }, '@insert': { '@id': 'fred', age: 43 },
    '@where': { '@id': 'fred', age: '?a' } }), 200);
  await ctx.untilSubject(a, 'fred', s => s?.age === 43);

  // If-Match: a stale tick is 412 and changes nothing; the current one writes
  const current = await api.etag();
  const before = await api.all();
  ctx.expect(await api.post({ '@id': 'gazoo', name: 'Gazoo' }, { headers: { 'if-match': '"1"' } }), 412);
  const stale = await api.post({ '@id': 'gazoo', name: 'Gazoo' }, { headers: { 'if-match': current.replace(/\d+/, n => `${Number(n) - 1}`) } });
  ctx.expect(stale, 412);
  assert.equal(stale.headers.get('etag'), current, '412 gives the current ETag');
  assert.deepEqual(await api.all(), before, 'a stale If-Match changes nothing');
  assert.equal(await api.etag(), current, 'nor the ETag');
  await ctx.sleep(300);
  assert.equal(await ctx.subject(a, 'gazoo'), undefined, 'nothing reached A');
  const ok = ctx.expect(await api.post({ '@id': 'gazoo', name: 'Gazoo' }, { headers: { 'if-match': current } }), 200);
  assert.notEqual(ok.headers.get('etag'), current, 'the ETag moves on with a write');
  await ctx.untilSubject(a, 'gazoo');
  // Both converge
  const jsFinal = await ctx.allSubjects(a);
  await api.until(all => ctx.stableJson(all) === ctx.stableJson(jsFinal), 'equal to A\'s final data');
}
