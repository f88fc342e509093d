#!/usr/bin/env node
// meld-gateway end-to-end tests: spawns the gateway binary (or uses a running
// one) and runs every scenario in scenarios/ against it with real m-ld clones.
import { readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { TestContext, Skip } from './lib/context.mjs';
import { SpawnedGateway } from './lib/gateway.mjs';
import { deadline } from './lib/util.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

const HELP = `usage: node run.mjs [--only NAME[,NAME...]] [--list] [--verbose] [--keep]

Spawns the gateway (GATEWAY_BIN, default ${join(repo, 'target/debug/meld-gateway')})
on a free port with a fresh data directory and root key, then runs the scenarios.

  --only NAME   run only these scenarios (repeatable, or comma-separated)
  --list        list scenario names
  --verbose     log HTTP exchanges, handshakes, client warnings, stacks (stderr)
  --keep        keep the temp directory (data + gateway.log) even if all pass

Environment:
  GATEWAY_BIN        gateway binary to spawn
  GATEWAY_LOG_LEVEL  LOG_LEVEL for the spawned gateway (default debug)
  GATEWAY_ORIGIN     test an already running gateway instead of spawning one;
                     then also ROOT_KEY (rootacc.keyid:secret) and GATEWAY_DOMAIN
                     (default ex.org); ROOT_ACCOUNT defaults to the key's prefix
  SCENARIO_TIMEOUT_SCALE  multiplies scenario timeouts (default 1)`;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    list: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const verbose = args.verbose || process.env.E2E_VERBOSE === '1';

// Clones being torn down may reject stray promises; never let that end the run.
process.on('unhandledRejection', e => verbose && console.error('  (unhandled rejection)', e?.message ?? e));
process.on('uncaughtException', e => verbose && console.error('  (uncaught exception)', e?.message ?? e));

async function loadScenarios() {
  const dir = join(here, 'scenarios');
  const files = (await readdir(dir)).filter(f => f.endsWith('.mjs')).sort();
  const all = [];
  for (const file of files) {
    const mod = await import(pathToFileURL(join(dir, file)).href);
    if (typeof mod.default !== 'function')
      throw new Error(`scenarios/${file} has no default export function`);
    all.push({ name: mod.name ?? file.slice(0, -4), run: mod.default, timeoutMs: mod.timeoutMs ?? 60000 });
  }
  if (!args.only?.length)
    return all;
  const wanted = new Set(args.only.flatMap(o => o.split(',')).filter(Boolean));
  const unknown = [...wanted].filter(n => !all.some(s => s.name === n));
  if (unknown.length)
    throw new Error(`no such scenario: ${unknown.join(', ')} (have: ${all.map(s => s.name).join(', ')})`);
  return all.filter(s => wanted.has(s.name));
}

const firstLine = e => String(e instanceof Error ? e.message || e.name : e)
  .replace(/\s*\n\s*/g, ' | ').slice(0, 800);

async function main() {
  const scenarios = await loadScenarios();
  if (args.list) {
    scenarios.forEach(s => console.log(s.name));
    return 0;
  }
  let target, gateway = null;
  if (process.env.GATEWAY_ORIGIN) {
    const rootKey = process.env.ROOT_KEY;
    if (!rootKey) {
      console.error('GATEWAY_ORIGIN needs ROOT_KEY too\n\n' + HELP);
      return 2;
    }
    target = {
      origin: process.env.GATEWAY_ORIGIN,
      domain: process.env.GATEWAY_DOMAIN || 'ex.org',
      root: { user: process.env.ROOT_ACCOUNT || rootKey.split('.')[0], key: rootKey }
    };
    console.log(`# using running gateway at ${target.origin} (domain ${target.domain})`);
  } else {
    gateway = new SpawnedGateway({
      bin: process.env.GATEWAY_BIN || join(repo, 'target/debug/meld-gateway'),
      domain: 'ex.org',
      rootAccount: 'rootacc',
      logLevel: process.env.GATEWAY_LOG_LEVEL || 'debug'
    });
    try {
      const ms = await gateway.start();
      console.log(`# gateway ${gateway.bin} ready at ${gateway.origin} in ${ms} ms; log: ${gateway.logPath}`);
    } catch (e) {
      console.log(`FAIL startup: ${firstLine(e)}`);
      console.log(`--- gateway log tail (${gateway.logPath}) ---\n${await gateway.logTail()}`);
      if (gateway.child && !gateway.exit)
        await gateway.stop();
      return 1;
    }
    target = { origin: gateway.origin, domain: gateway.domain, root: { user: gateway.rootAccount, key: gateway.rootKey } };
  }

  const scale = Number(process.env.SCENARIO_TIMEOUT_SCALE || 1);
  let passed = 0, failed = 0, skipped = 0;
  for (const s of scenarios) {
    if (gateway?.exit) {
      console.log(`FAIL ${s.name}: not run, the gateway has exited (${gateway.describeExit()})`);
      failed++;
      continue;
    }
    const ctx = new TestContext({ ...target, verbose, name: s.name, gateway });
    const t0 = Date.now();
    let error = null;
    try {
      const crashed = gateway ? gateway.crashed.then(() => {
        throw new Error(`gateway exited during the scenario (${gateway.describeExit()})`);
      }) : new Promise(() => {});
      await deadline(Promise.race([s.run(ctx), crashed]), s.timeoutMs * scale, `scenario ${s.name}`);
    } catch (e) {
      error = e;
    }
    await ctx.cleanup();
    const ms = Date.now() - t0;
    if (!error) {
      console.log(`ok ${s.name} (${ms} ms)`);
      passed++;
    } else if (error instanceof Skip) {
      console.log(`SKIP ${s.name}: ${error.message}`);
      skipped++;
    } else {
      console.log(`FAIL ${s.name}: ${firstLine(error)}`);
      if (verbose)
        console.error(error);
      failed++;
    }
  }

  if (gateway) {
    const stopped = await gateway.stop(5000);
    if (stopped.ok) {
      console.log(`# ${stopped.detail}`);
    } else {
      console.log(`FAIL shutdown: ${stopped.detail}`);
      failed++;
    }
    if (failed > 0) {
      console.log(`--- gateway log tail (${gateway.logPath}) ---\n${await gateway.logTail()}\n---`);
      console.log(`# kept ${gateway.dir}`);
    } else if (args.keep) {
      console.log(`# kept ${gateway.dir}`);
    } else {
      await rm(gateway.dir, { recursive: true, force: true });
    }
  }
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
  return failed ? 1 : 0;
}

main().then(code => process.exit(code), e => {
  console.error(e);
  process.exit(2);
});
