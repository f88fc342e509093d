// Data integrity: a gateway of its own; real JS clones write into two named
// subdomains, alpha and beta. `meld-gateway verify` refuses while the
// gateway runs (exit 2), and finds the stopped store clean (exit 0). Then
// one byte of one stored record of alpha is flipped offline (the test
// helper examples/flip_record, through sled, so only the logical check can
// see it): verify exits 1 naming alpha and not beta. The gateway starts
// again: alpha is quarantined (a JS clone is refused with a clear
// connect_error, the Clone API answers 503, the metric counts it, the log
// says so) while a fresh JS clone of beta syncs and reads beta's data.
// Removing the quarantined subdomain works (the way out without a backup).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ownGateway } from '../lib/gateway.mjs';
import { TestContext } from '../lib/context.mjs';
import { ALL, StateApi } from '../lib/cloneapi.mjs';

export const name = 'integrity-quarantine';
export const timeoutMs = 150000;

/** Runs a program; resolves {code, stdout, stderr} whatever the exit */
const run = (file, args, env = {}) => promisify(execFile)(file, args, { env: { ...process.env, ...env } })
  .then(r => ({ code: 0, ...r }), e => ({ code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('starts a gateway of its own from the binary');
  const bin = ctx.gateway.bin;
  const flipper = join(dirname(bin), 'examples', 'flip_record');
  assert.ok(existsSync(flipper), `test helper ${flipper} missing: cargo build --examples`);

  let gw = await ownGateway(bin, { root: 'iqroot' });
  const contextOf = g => new TestContext({
    origin: `http://127.0.0.1:${g.port}`, domain: 'ex.org', root: { user: 'iqroot', key: g.rootKey },
    verbose: ctx.verbose, name
  });
  let c = contextOf(gw);
  // verify with the same settings as serve
  const verify = () => run(bin, ['verify'], { ...gw.settings, M_LD_GATEWAY_DATA_PATH: gw.dataPath });
  try {
    const acc = await c.createAccount('iq');
    const configs = { alpha: await c.putSubdomain(acc, 'alpha'), beta: await c.putSubdomain(acc, 'beta') };
    const want = name => c.canonicalSubjects([
      { '@id': `${name}-1`, label: `written in ${name}` },
      { '@id': `${name}-2`, n: 2, friend: { '@id': `${name}-1` } }
    ]);
    for (const name of ['alpha', 'beta']) {
      const m = await c.clone(configs[name], { auth: acc.auth });
      await c.deadline(m.status.becomes({ outdated: false }), 15000, `${name} clone up to date`);
      for (const subject of want(name))
        await m.write(subject);
      // The backup clone has it (the Clone API reads it) before we leave
      const api = new StateApi(c, acc, name);
      await c.pollUntil(async () => (await api.all()).length === 2, { timeout: 15000, what: `${name} backed up` });
      c.sameData(await api.all(), want(name), `${name}'s backup has what the clone wrote`);
      await c.closeClone(m);
    }

    const busy = await verify();
    assert.equal(busy.code, 2, `verify while the gateway runs: exit 2, got ${busy.code}: ${busy.stderr}`);
    assert.match(busy.stderr, /in use by a running gateway/);

    await c.cleanup();
    await gw.stop();
    const clean = await verify();
    assert.equal(clean.code, 0, `verify on a clean store: ${clean.stdout}${clean.stderr}`);
    assert.match(clean.stdout, /clean \(accounts and 2 domains checked\)/);

    const flip = await run(flipper, [gw.dataPath, acc.name, 'alpha']);
    assert.equal(flip.code, 0, `flip_record: ${flip.stdout}${flip.stderr}`);
    const corrupt = await verify();
    assert.equal(corrupt.code, 1, `verify after a flipped byte: exit 1, got ${corrupt.code}: ${corrupt.stdout}${corrupt.stderr}`);
    assert.match(corrupt.stdout, new RegExp(`domain ${acc.name}/alpha: integrity digest mismatch`));
    assert.doesNotMatch(corrupt.stdout, /\/beta:/, 'beta is not reported');
    assert.match(corrupt.stdout, new RegExp(`CORRUPTION in 1 of 3 stores: domain ${acc.name}/alpha`));
    ctx.log(corrupt.stdout.trim());

    gw = await ownGateway(bin, { again: gw });
    c = contextOf(gw);
    await c.pollUntil(() => c.http('GET', '/healthz').then(r => r.status === 200, () => false),
      { timeout: 10000, what: 'the gateway up again' });

    // alpha: refused, saying why, on the relay and on the Clone API
    const refusal = await c.refused('handshake on quarantined alpha', { domain: configs.alpha['@domain'], auth: acc.auth });
    assert.match(refusal, /domain quarantined: its stored data failed an integrity check/);
    ctx.log(`alpha JS clone: ${await c.cloneFails(configs.alpha, { auth: acc.auth }, { within: 8000 })}`);
    const api = await new StateApi(c, acc, 'alpha').getRaw(ALL);
    assert.equal(api.status, 503, `Clone API of alpha: ${api.text}`);
    assert.match(api.json.message, /domain quarantined/);

    // beta: served as before
    const { meld: b, data } = await c.freshClone(configs.beta, { auth: acc.auth });
    c.sameData(data, want('beta'), 'a fresh JS clone of beta has beta\'s data');
    await b.write({ '@id': 'beta-3', after: 'restart' });
    await c.pollUntil(async () => (await new StateApi(c, acc, 'beta').all()).length === 3,
      { timeout: 15000, what: 'beta\'s backup takes a new write' });

    const metrics = c.expect(await c.http('GET', '/metrics', { auth: c.root }), 200);
    assert.match(metrics.text, /^meld_gateway_domains_quarantined 1$/m);
    const log = await gw.log();
    assert.match(log, /domain quarantined/);
    assert.match(log, /alpha/);

    // The way out without a backup: remove the quarantined subdomain
    c.expect(await c.http('DELETE', c.subdomainPath(acc, 'alpha'), { auth: acc.auth }), 204);
    const after = c.expect(await c.http('GET', '/metrics', { auth: c.root }), 200);
    assert.match(after.text, /^meld_gateway_domains_quarantined 0$/m);
  } finally {
    await c.cleanup();
    await gw.stop();
  }
}
