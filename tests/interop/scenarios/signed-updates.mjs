// Signed updates (useSignatures): an account PUTs a subdomain with a user's
// RSA public key; a real clone signing as that user (the Node gateway's
// `keyid:` + RSASSA-PKCS1-v1_5 SHA-256 format) writes data the backup clone
// accepts. Unsigned writes, a wrong key under the user's keyid, and another
// principal claiming the user's keyid are not applied by the backup (the
// Clone API read lacks them) and the gateway logs each rejection; a later
// write that depends on a rejected one still goes in. A user added by a
// later PUT is honoured at once. A clone that verifies signatures itself
// revs up from the backup: the relayed operations carry their original attr.
import { createPrivateKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { StateApi } from '../lib/cloneapi.mjs';

export const name = 'signed-updates';
export const timeoutMs = 90000;

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { publicKey, privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
}

/** The m-ld app of a user signing with `privateKey` under `keyid` */
function signingApp(pid, keyid, privateKey, extra = {}) {
  return {
    principal: { '@id': pid },
    transportSecurity: {
      wire: d => d,
      sign: d => ({ pid, sig: Buffer.concat([Buffer.from(`${keyid}:`), sign('sha256', d, privateKey)]) }),
      ...extra
    }
  };
}

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.createAccount('signer');
  const sub = ctx.freshName('sd');
  const alice = { pid: 'https://users.example/alice', keyid: 'alice1', ...keyPair() };
  const body = { useSignatures: true, user: { '@id': alice.pid, key: { keyid: alice.keyid, public: alice.spki } } };
  const config = await ctx.putSubdomain(acc, sub, body);
  assert.deepEqual(await ctx.putSubdomain(acc, sub, body), config, 'PUT again gives the same config');
  // Without a user the account signs as itself, which needs an RSA key
  // (?type=rsa) for the key it authenticates with; this account has none
  ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, sub), { auth: acc.auth }), 400);
  ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, sub),
    { auth: acc.auth, body: { useSignatures: false } }), 409);
  const state = new StateApi(ctx, acc, sub);
  const has = async id => (await state.read({ '@describe': id })).length > 0;
  const poll = async (pred, ms, what) => {
    for (const until = Date.now() + ms; !await pred();) {
      if (Date.now() > until)
        throw new Error(`${what}: not within ${ms} ms`);
      await ctx.sleep(100);
    }
  };
  const untilApplied = (id, what) => poll(() => has(id), 15000, `backup applies ${what}`);
  const log = () => ctx.gatewayLog();
  const untilLogged = (re, what) => poll(async () => re.test(await log()), 10000, `gateway logs ${what}`);
  const label = `${acc.name}/${sub}`;

  // Alice signs: the backup applies and logs her update
  const a = await ctx.clone(config, { auth: acc.auth, app: signingApp(alice.pid, alice.keyid, alice.privateKey) });
  await a.write({ '@id': 'signed1', by: 'alice' });
  await untilApplied('signed1', 'a signed write');
  if (ctx.gateway)
    await untilLogged(new RegExp(`${label} USER ${alice.pid} .*signed1`), 'the verified update');

  // Not applied by the backup: unsigned, wrong key under Alice's keyid,
  // another principal using Alice's keyid. Each reaches Alice (the relay
  // routes them), each is logged as rejected.
  const mallory = keyPair();
  const bad = [
    { id: 'unsigned1', app: undefined, reason: 'unsigned' },
    { id: 'forged1', app: signingApp(alice.pid, alice.keyid, mallory.privateKey), reason: 'signature not valid' },
    { id: 'claimed1', app: signingApp('https://users.example/mallory', alice.keyid, alice.privateKey),
      reason: 'keyid does not belong to the principal' }
  ];
  for (const { id, app, reason } of bad) {
    const c = await ctx.clone(config, { auth: acc.auth, app });
    await c.write({ '@id': id, by: 'someone' });
    await ctx.untilSubject(a, id);
    if (ctx.gateway)
      await untilLogged(new RegExp(`signed update rejected.*${reason}|${reason}.*signed update rejected`),
        `the rejection of ${id} (${reason})`);
    else
      await ctx.sleep(1000);
    await ctx.closeClone(c);
  }
  // Alice has seen the rejected writes: her next write depends on them, and
  // must still go in (the backup counts rejected operations as seen)
  await a.write({ '@id': 'signed2', by: 'alice', after: bad.map(b => ({ '@id': b.id })) });
  await untilApplied('signed2', 'a signed write that follows rejected ones');
  for (const { id } of bad)
    assert.equal(await has(id), false, `the backup must not apply ${id}`);
  if (ctx.gateway) {
    const text = await log();
    const rejections = text.split('\n').filter(l => l.includes('signed update rejected'));
    assert.ok(rejections.length >= bad.length, `rejections logged: ${rejections.length}`);
    assert.ok(rejections.every(l => l.includes(label)), `rejections name the domain: ${rejections[0]}`);
    assert.ok(rejections.some(l => l.includes(alice.keyid) && l.includes('https://users.example/mallory')),
      `a rejection names pid and keyid: ${rejections.join('\n')}`);
    assert.ok(!text.includes(alice.spki.slice(40, 100)), 'no key material in the log');
  }

  // Bob is added by a later PUT and is honoured at once
  const bob = { pid: 'https://users.example/bob', keyid: 'bob_01', ...keyPair() };
  await ctx.putSubdomain(acc, sub, { user: { '@id': bob.pid, key: { keyid: bob.keyid, public: bob.spki } } });
  const b = await ctx.clone(config, { auth: acc.auth, app: signingApp(bob.pid, bob.keyid, bob.privateKey) });
  await b.write({ '@id': 'bob1', by: 'bob' });
  await untilApplied('bob1', 'a write by a user added later');
  await ctx.closeClone(b);

  // A clone that verifies: it revs up from the backup (listed first) and
  // checks each relayed operation's attribution against the signed bytes
  const keys = { [alice.keyid]: [alice.pid, alice.publicKey], [bob.keyid]: [bob.pid, bob.publicKey] };
  const checked = [], failures = [];
  const verifyAttr = (data, attr) => {
    const problem = (() => {
      if (attr == null)
        return 'no attribution';
      const sig = Buffer.from(attr.sig), colon = sig.indexOf(':');
      const [pid, key] = keys[sig.subarray(0, colon).toString()] ?? [];
      if (pid !== attr.pid)
        return `unknown signer ${attr.pid}`;
      return verify('sha256', data, key, sig.subarray(colon + 1)) ? null : 'bad signature';
    })();
    (problem ? failures : checked).push(problem ?? attr.pid);
    ctx.log(`verifying clone: ${problem ?? 'verified'} (${data.length} bytes, pid ${attr?.pid})`);
    if (problem)
      throw new Error(problem);
  };
  // Alice's signed control messages carry attr too; this clone checks
  // operations only, which m-ld verifies in SuSetDataset.apply
  const vapp = signingApp(alice.pid, alice.keyid, alice.privateKey, { verify: verifyAttr });
  const v = await ctx.clone(config, { auth: acc.auth, app: vapp });
  await ctx.untilSubject(v, 'bob1');
  await ctx.cutConnection(v);
  await a.write({ '@id': 'signed3', by: 'alice' });
  await untilApplied('signed3', 'a write while the verifying clone is away');
  await ctx.closeClone(a); // the backup is the only one who can rev v up
  await ctx.reconnect(v);
  await ctx.untilSubject(v, 'signed3', s => s != null, 20000);
  assert.deepEqual(failures, [], 'every relayed operation verifies');
  assert.ok(checked.includes(alice.pid), `the revup carried Alice's signature (checked ${JSON.stringify(checked)})`);
  for (const { id } of bad)
    assert.equal(await ctx.subject(v, id), undefined, `a clone recovering from the backup lacks ${id}`);

  await ctx.closeClone(v);

  // The account signs as itself with the RSA pair of a ?type=rsa key: a PUT
  // with that key and no user registers it; a clone signing with it is applied
  const rsa = ctx.expect(await ctx.http('POST', `/api/v1/user/${acc.name}/key?type=rsa`, { auth: acc.auth }), 200).json;
  const selfAuth = { user: acc.name, key: rsa.auth.key };
  const [, selfRest] = rsa.auth.key.split('.');
  const [selfKeyid, selfSecret] = selfRest.split(':');
  await ctx.putSubdomain({ ...acc, auth: selfAuth, key: rsa.auth.key }, sub);
  const selfPrivate = createPrivateKey({ key: Buffer.from(rsa.key.private, 'base64'), format: 'der', type: 'pkcs8',
    passphrase: selfSecret });
  const selfPid = `http://${ctx.domain}/${acc.name}`;
  const s = await ctx.clone(config, { auth: selfAuth, app: signingApp(selfPid, selfKeyid, selfPrivate) });
  await s.write({ '@id': 'self1', by: 'the account' });
  await untilApplied('self1', 'a write signed by the account itself');
}
