// m-ld lists survive in the gateway's backup clone: JS clones write a list
// (create, insert in the middle, concurrent inserts at the head from two
// clones, delete an item), leave, and a fresh clone alone with the gateway
// gets the identical list — and can edit it by index, which works only if
// the snapshot carried the entailed slot indexes (json-rql #index). The
// Clone API shows the list as a JS clone does, inserts into lists by index,
// and a Clone API write that deletes a position takes the slot with it.
import { StateApi } from '../lib/cloneapi.mjs';

export const name = 'backup-lists';
export const timeoutMs = 90000;

export default async function (ctx) {
  const { assert } = ctx;
  const { acc, name, config } = await ctx.namedSubdomain('lists');
  const api = new StateApi(ctx, acc, name);
  const listOf = async (meld, id = 'shopping') => (await ctx.subject(meld, id))?.['@list'];

  const a = await ctx.clone(config, { auth: acc.auth });
  const c = await ctx.clone(config, { auth: acc.auth, transports: ['websocket'] });
  await a.write({ '@id': 'shopping', '@list': ['Bread', 'Milk'] });
  await ctx.untilSubject(c, 'shopping', s => s?.['@list']?.length === 2);
  // Into the middle, by index
  await a.write({ '@id': 'shopping', '@list': { 1: 'Eggs' } });
  await ctx.untilSubject(c, 'shopping', s => s?.['@list']?.length === 3);
  assert.deepEqual(await listOf(c), ['Bread', 'Eggs', 'Milk'], 'insert into the middle');
  // Two clones insert at the head at once: their posIds decide the order
  await Promise.all([
    a.write({ '@id': 'shopping', '@list': { 0: 'Apples' } }),
    c.write({ '@id': 'shopping', '@list': { 0: 'Cheese' } })
  ]);
  await ctx.untilSubject(a, 'shopping', s => s?.['@list']?.length === 5);
  await ctx.untilSubject(c, 'shopping', s => s?.['@list']?.length === 5);
  // Delete an item by value
  await c.write({ '@delete': { '@id': 'shopping', '@list': { '?': 'Milk' } } });
  await ctx.untilSubject(a, 'shopping', s => s?.['@list']?.length === 4);
  // A second list, of references, written as a whole
  await a.write({ '@id': 'people', '@list': [{ '@id': 'fred' }, { '@id': 'wilma' }] });
  await a.write({ '@id': 'fred', name: 'Fred' });
  await ctx.converged([a, c]);

  const shopping = await listOf(a);
  assert.deepEqual(shopping.slice(2), ['Bread', 'Eggs'], `the list after the edits: ${JSON.stringify(shopping)}`);
  assert.deepEqual([...shopping.slice(0, 2)].sort(), ['Apples', 'Cheese'], `both head inserts: ${JSON.stringify(shopping)}`);
  assert.deepEqual(await listOf(c), shopping, 'both clones agree on the order');
  const people = await listOf(a, 'people');
  const want = await ctx.allSubjects(a);
  await ctx.closeClone(a);
  await ctx.closeClone(c);

  // Nobody but the gateway: the list can only come from the backup clone
  const { meld: b, data } = await ctx.freshClone(config, { auth: acc.auth });
  ctx.sameData(data, want, 'B, alone with the gateway, has exactly the data A and C left');
  assert.deepEqual(await listOf(b), shopping, 'B has the list in the same order');
  assert.deepEqual(await listOf(b, 'people'), people, 'and the list of references');
  // The slots' indexes came with the snapshot: every slot has the index of
  // its position (JS needs them to edit by index)
  const slots = data.filter(s => s['@item'] != null);
  assert.equal(slots.length, shopping.length + people.length, `slots: ${JSON.stringify(slots)}`);
  for (const s of slots)
    assert.equal(s['@index']?.length, 1, `slot ${s['@id']} has one index: ${JSON.stringify(s)}`);

  // Edit by index: delete the item at 0, insert at 1
  await b.write({ '@delete': { '@id': 'shopping', '@list': { 0: '?item' } } });
  await b.write({ '@id': 'shopping', '@list': { 1: 'Dates' } });
  const edited = [shopping[1], 'Dates', ...shopping.slice(2)];
  assert.deepEqual(await listOf(b), edited, 'B edits the list by index');

  // The Clone API shows the list as a JS clone does, once B's edits arrive
  await ctx.deadline((async () => {
    for (;;) {
      const [got] = await api.read({ '@describe': 'shopping' });
      if (JSON.stringify(got?.['@list']) === JSON.stringify(edited))
        return;
      await new Promise(r => setTimeout(r, 200));
    }
  })(), 10000, 'the Clone API showing B\'s edits');
  const [described] = await api.read({ '@describe': 'shopping' });
  assert.deepEqual(described, await ctx.subject(b, 'shopping'), 'Clone API describe = JS describe');
  ctx.sameData(await api.all(), await ctx.allSubjects(b), 'Clone API: every subject (slots with indexes) as B has it');
  // and matches list items by index as a JS clone does
  const byIndex = { '@select': ['?i', '?x'], '@where': { '@id': 'shopping', '@list': { '?i': '?x' } } };
  await new Promise(r => setImmediate(r)); // m-ld 0.10: a read must start in a new macrotask
  const jsRows = await b.read(byIndex);
  assert.equal(jsRows.length, edited.length, `a row per item: ${JSON.stringify(jsRows)}`);
  const rows = rows => Array.from(rows, r => JSON.stringify([r['?i'], r['?x']])).sort();
  assert.deepEqual(rows(await api.read(byIndex)), rows(jsRows), 'Clone API select by list index');

  // Clone API inserts into lists: JS clones read them, and allocate
  // positions next to the ones the gateway allocated
  ctx.expect(await api.post({ '@id': 'shopping', '@list': { 1: 'Grapes' } }), 200);
  ctx.expect(await api.post({ '@id': 'todo', '@list': ['x', 'y'] }), 200);
  await ctx.untilSubject(b, 'shopping', s => s?.['@list']?.[1] === 'Grapes');
  await ctx.untilSubject(b, 'todo', s => JSON.stringify(s?.['@list']) === '["x","y"]');
  await b.write({ '@id': 'shopping', '@list': { 2: 'Honey' } });
  const honeyed = [edited[0], 'Grapes', 'Honey', ...edited.slice(1)];
  assert.deepEqual(await listOf(b), honeyed, 'B inserts next to the Clone API\'s item');

  // A Clone API write deletes an item's position: its slot goes too (as
  // a JS clone's write would), and B sees the list without it
  ctx.expect(await api.post({
    '@delete': { '@id': 'shopping', '?p': '?slot' },
    '@where': { '@id': 'shopping', '?p': { '@id': '?slot', '@item': 'Dates' } }
  }), 200);
  const final = honeyed.filter(i => i !== 'Dates');
  await ctx.untilSubject(b, 'shopping', s => JSON.stringify(s?.['@list']) === JSON.stringify(final));
  await ctx.converged([b], 5000);
  ctx.sameData(await api.all(), await ctx.allSubjects(b), 'Clone API and B agree after the Clone API write');
  assert.ok(!(await api.all()).some(s => [].concat(s['@item'] ?? []).includes('Dates')), 'the slot went too');

  // A clone joining now gets the edited list from the backup
  await ctx.closeClone(b);
  const { meld: d } = await ctx.freshClone(config, { auth: acc.auth });
  assert.deepEqual(await listOf(d), final, 'a later clone gets the edited list');
  // and can still edit it by index
  await d.write({ '@id': 'shopping', '@list': { 0: 'Figs' } });
  assert.deepEqual(await listOf(d), ['Figs', ...final], 'D inserts at the head');
}
