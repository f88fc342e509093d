// A domain using what the backup clone cannot apply (TSeq shared text,
// whose operations travel in update[2]) gets no snapshot from it: the
// backup logs why and refuses, so a new clone recovers from a JS clone
// while one is present, and, with only the gateway left, fails to start
// rather than getting stale text.
export const name = 'backup-unsupported';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('needs the spawned gateway\'s log');
  const { acc, config } = await ctx.namedSubdomain('tseq');
  const a = await ctx.clone(config, { auth: acc.auth });
  // Declares the TSeqText datatype in the data (itself a list), then
  // writes and splices text
  await a.write({
    '@context': { js: 'http://js.m-ld.org/#', sh: 'http://www.w3.org/ns/shacl#' },
    '@id': 'http://m-ld.org/extensions',
    '@list': [{ 'js:require': '@m-ld/m-ld/ext/tseq', 'js:class': 'TSeqText', 'sh:targetObjectsOf': { '@vocab': 'story' } }]
  });
  await a.write({ '@id': 'tale', story: 'Flintstones, meet the Flintstones' });
  await a.write({ '@update': { '@id': 'tale', story: { '@splice': [13, 2, 'gr'] } } });
  const story = 'Flintstones, gret the Flintstones'; // "me" (13, 2) → "gr"
  await ctx.untilSubject(a, 'tale', s => s?.story === story);

  const logged = async text => (await ctx.gatewayLog()).includes(text);
  await ctx.deadline((async () => {
    while (!await logged('can no longer serve this domain'))
      await new Promise(r => setTimeout(r, 200));
  })(), 10000, 'the gateway logging that it cannot serve the domain');

  // With A present, a new clone passes over the backup's refusal to A
  const { meld: b } = await ctx.freshClone(config, { auth: acc.auth });
  assert.equal((await ctx.subject(b, 'tale'))?.story, story, 'B has the spliced text, from A');
  assert.ok(await logged('recovery request refused'), 'the backup refused B\'s snapshot request');
  await ctx.closeClone(a);
  await ctx.closeClone(b);

  // Only the gateway left: it will not hand out stale text
  const how = await ctx.cloneFails(config, { auth: acc.auth });
  ctx.log('a new clone alone with the backup:', how);
}
