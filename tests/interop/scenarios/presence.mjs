// The relay's presence list: sent on connect, broadcast to the whole domain on
// every change, ordered by join, cleared on leave and on disconnect, and
// scoped to one domain.
export const name = 'presence';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.uuidAccount('pres', 'anon');
  const domain = (await ctx.newUuidDomain(acc))['@domain'];
  const otherDomain = (await ctx.newUuidDomain(acc))['@domain'];

  const open = async id => {
    const r = await ctx.socket({ domain, id });
    assert.ok(r.connected, `${id} should connect: ${ctx.verdict(r)}`);
    r.socket.mid = id;
    return r.socket;
  };
  const last = s => s.presences[s.presences.length - 1];
  const firstPresence = async s => {
    await ctx.until(() => s.presences.length > 0, 2000, `presence event right after ${s.mid} connected`);
    return s.presences[0];
  };
  // Every socket's latest list becomes exactly `ids` (polling the recordings)
  const allSee = async (sockets, ids, what) => {
    try {
      await ctx.until(() => sockets.every(s => ctx.stableJson(last(s)) === ctx.stableJson(ids)), 3000, what);
    } catch (e) {
      throw new Error(`${what}: expected every socket's latest presence to be ${JSON.stringify(ids)}; ` +
        sockets.map(s => `${s.mid} got ${JSON.stringify(s.presences)}`).join('; '));
    }
  };

  const s1 = await open('one');
  assert.deepEqual(await firstPresence(s1), [], 'first socket on a fresh domain: presence []');
  const s2 = await open('two');
  assert.deepEqual(await firstPresence(s2), [], 'nobody present yet: presence []');
  // A socket in another domain, with the same ids, must hear nothing of this one
  const outsider = await ctx.connectedSocket({ domain: otherDomain, id: 'one' });
  await firstPresence(outsider);

  s1.emit('present', true);
  await allSee([s1, s2], ['one'], 'one present');

  const s3 = await open('three');
  assert.deepEqual(await firstPresence(s3), ['one'], 'a newcomer is told who is present');

  s3.emit('present', true);
  await allSee([s1, s2, s3], ['one', 'three'], 'three present after one');
  s2.emit('present', true);
  await allSee([s1, s2, s3], ['one', 'three', 'two'], 'join order one, three, two');

  // Leaving by present:false
  s3.emit('present', false);
  await allSee([s1, s2, s3], ['one', 'two'], 'three left (present false)');
  // Coming back puts it at the end
  s3.emit('present', true);
  await allSee([s1, s2, s3], ['one', 'two', 'three'], 'three back, last');

  // Leaving by disconnecting
  s1.close();
  await allSee([s2, s3], ['two', 'three'], 'one disconnected');

  // A socket that never said present disconnects: no change for the others
  const s4 = await open('four');
  assert.deepEqual(await firstPresence(s4), ['two', 'three']);
  const before = s2.presences.length;
  s4.close();
  await ctx.sleep(500);
  for (const s of s2.presences.slice(before))
    assert.deepEqual(s, ['two', 'three'], `after a non-present socket left: ${JSON.stringify(s2.presences)}`);

  // The other domain never saw any of it
  await ctx.sleep(200);
  assert.ok(outsider.presences.every(ids => ids.length === 0),
    `socket in another domain got presence lists of this one: ${JSON.stringify(outsider.presences)}`);
  // ... and its own presence is its own
  outsider.emit('present', true);
  await allSee([outsider], ['one'], 'outsider present in its own domain');
  await ctx.sleep(300);
  assert.deepEqual(last(s2), ['two', 'three'], 'the other domain\'s presence must not leak in');
}
