// Starts and stops the meld-gateway binary for a test run.
import { spawn, execFile, execFileSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { promisify } from 'node:util';
import { appendFile, mkdtemp, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, randomAp } from './util.mjs';

/** A TCP port that was free a moment ago on 127.0.0.1 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A root key in the gateway's format: `acc.<6 of a-p>:<74 of a-p>` */
export const newRootKey = account => `${account}.${randomAp(6)}:${randomAp(74)}`;

export class SpawnedGateway {
  /**
   * @param {{bin: string, domain: string, rootAccount: string, logLevel: string}} opts
   */
  constructor({ bin, domain, rootAccount, logLevel }) {
    Object.assign(this, { bin, domain, rootAccount, logLevel });
    this.rootKey = newRootKey(rootAccount);
    this.exit = null; // {code, signal} once the current process exited
  }

  /**
   * First start: a fresh temp directory, data directory and port. Resolves
   * with the ms it took until `GET /healthz` answered 200.
   */
  async start({ readyWithin = 30000 } = {}) {
    this.dir = await mkdtemp(join(tmpdir(), 'meld-gateway-e2e-'));
    this.dataPath = join(this.dir, 'data');
    this.logPath = join(this.dir, 'gateway.log');
    this.port = await freePort();
    this.origin = `http://127.0.0.1:${this.port}`;
    // Settles (never rejects) with the exit of a gateway that stopped without
    // being asked to: the runner fails the running scenario then
    this.crashed = new Promise(resolve => (this.onCrash = resolve));
    this.restarts = 0;
    return this.launch(readyWithin);
  }

  /** Spawns the binary on this.port / this.dataPath and waits for /healthz */
  async launch(readyWithin) {
    const log = await open(this.logPath, 'a');
    this.exit = null;
    this.stopping = false;
    const child = this.child = spawn(this.bin, ['serve'], {
      env: {
        ...process.env,
        M_LD_GATEWAY_GATEWAY: this.domain,
        M_LD_GATEWAY_AUTH__KEY: this.rootKey,
        M_LD_GATEWAY_DATA_PATH: this.dataPath,
        M_LD_GATEWAY_ADDRESS__HOST: '127.0.0.1',
        M_LD_GATEWAY_ADDRESS__PORT: String(this.port),
        // Short, so that the key rotation scenario can see a grace period end
        M_LD_GATEWAY_AUTH__ROTATION_GRACE_SECS: process.env.GATEWAY_ROTATION_GRACE_SECS ?? '3',
        // Scenarios refuse many bad keys from 127.0.0.1 on purpose (and a
        // refused clone retries); the lockout scenario runs its own gateway
        M_LD_GATEWAY_AUTH__LOCKOUT_FAILURES: process.env.GATEWAY_LOCKOUT_FAILURES ?? '100000',
        // Scenarios run many activations and anonymous requests from
        // 127.0.0.1 in quick succession; the limits scenario runs its own
        // gateway with low ones
        M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_IP: '100000',
        M_LD_GATEWAY_LIMITS__ACTIVATIONS_PER_EMAIL: '100000',
        M_LD_GATEWAY_LIMITS__ANON_REQUESTS_PER_SEC: '100000',
        M_LD_GATEWAY_LIMITS__ANON_REQUEST_BURST: '100000',
        LOG_LEVEL: this.logLevel
      },
      stdio: ['ignore', log.fd, log.fd]
    });
    await log.close(); // the child keeps its own copy of the descriptor
    this.exited = new Promise(resolve => {
      const done = x => {
        if (this.child !== child)
          return;
        this.exit = x;
        if (!this.stopping)
          this.onCrash(x);
        resolve(x);
      };
      child.on('exit', (code, signal) => done({ code, signal }));
      child.on('error', e => done({ code: null, signal: null, error: e }));
    });
    const start = Date.now();
    for (;;) {
      if (this.exit)
        throw new Error(`gateway exited before it was ready: ${this.describeExit()}`);
      try {
        const res = await fetch(`${this.origin}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200)
          return Date.now() - start;
      } catch { /* not listening yet */ }
      if (Date.now() - start > readyWithin)
        throw new Error(`GET /healthz did not answer 200 within ${readyWithin} ms`);
      await sleep(100);
    }
  }

  /**
   * Stops the gateway with `signal` (SIGTERM: must exit within `graceMs`;
   * SIGKILL: at once) and starts it again on the same port, data directory
   * and root key. Resolves `{stoppedMs, readyMs, exit}`; rejects if the old
   * process does not stop in time or the new one does not come up.
   */
  async restart({ signal = 'SIGTERM', graceMs = 5000, readyWithin = 30000 } = {}) {
    if (this.exit)
      throw new Error(`cannot restart: the gateway had already stopped (${this.describeExit()})`);
    this.stopping = true;
    const t0 = Date.now();
    this.child.kill(signal);
    const timedOut = Symbol();
    const r = await Promise.race([this.exited, sleep(graceMs).then(() => timedOut)]);
    if (r === timedOut) {
      const conns = this.connections();
      this.child.kill('SIGKILL');
      await this.exited;
      throw new Error(`gateway still running ${graceMs} ms after ${signal} (killed); connections: ${conns}`);
    }
    const stoppedMs = Date.now() - t0;
    const exit = this.describeExit();
    if (signal === 'SIGTERM' && (this.exit.signal || this.exit.code !== 0))
      throw new Error(`gateway did not exit cleanly on SIGTERM: ${exit}`);
    this.restarts++;
    const mark = `\n===== e2e harness: gateway stopped by ${signal} (${exit}) after ${stoppedMs} ms; restart #${this.restarts} =====\n`;
    await appendFile(this.logPath, mark);
    const readyMs = await this.launch(readyWithin);
    return { stoppedMs, readyMs, exit };
  }

  describeExit() {
    const x = this.exit;
    if (!x)
      return 'still running';
    if (x.error)
      return `could not run ${this.bin}: ${x.error.message}`;
    return x.signal ? `killed by ${x.signal}` : `exit code ${x.code}`;
  }

  /** SIGTERM; resolves {ok, detail}: ok only if it exits within `graceMs` */
  async stop(graceMs = 5000) {
    if (this.exit)
      return { ok: false, detail: `gateway had already stopped (${this.describeExit()})` };
    const t0 = Date.now();
    this.stopping = true;
    this.child.kill('SIGTERM');
    const timedOut = Symbol();
    const r = await Promise.race([this.exited, sleep(graceMs).then(() => timedOut)]);
    if (r === timedOut) {
      const conns = this.connections();
      this.child.kill('SIGKILL');
      await this.exited;
      return {
        ok: false,
        detail: `gateway still running ${graceMs} ms after SIGTERM (killed with SIGKILL); ` +
          `TCP connections to its port at that moment: ${conns}`
      };
    }
    return { ok: true, detail: `gateway stopped ${Date.now() - t0} ms after SIGTERM (${this.describeExit()})` };
  }

  /**
   * Open TCP connections to the gateway's port, seen from the client side, with
   * the owning process (diagnostics for a slow shutdown; needs `ss`).
   */
  connections() {
    try {
      const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( dport = :${this.port} )`],
        { encoding: 'utf8', timeout: 2000 });
      const lines = out.trim().split('\n').filter(Boolean).map(l => {
        const f = l.trim().split(/\s+/);
        const who = /users:\(\("([^"]+)",pid=(\d+)/.exec(l);
        const mine = who && Number(who[2]) === process.pid ? ' (this test process)' : '';
        return `${f[2]} → ${f[3]}${who ? ` by ${who[1]} pid ${who[2]}${mine}` : ''}`;
      });
      return lines.length ? `${lines.length} established: ${lines.join('; ')}` : 'none established';
    } catch (e) {
      return `(ss failed: ${e.message.split('\n')[0]})`;
    }
  }

  async logTail(lines = 40) {
    try {
      const text = await readFile(this.logPath, 'utf8');
      return text.split('\n').slice(-lines - 1).join('\n');
    } catch (e) {
      return `(no log: ${e.message})`;
    }
  }
}

/**
 * A second gateway of a scenario's own (its own settings, e.g. a low lockout
 * threshold or TLS): `init` with `initArgs`, then `serve` with the printed
 * settings plus `env`, on a free port with a fresh data directory.
 * Resolves once it listens; `stop()` ends it. With `again` (a stopped own
 * gateway), starts it anew on the same directory, data, settings and port.
 */
export async function ownGateway(bin, { initArgs = [], env = {}, root = 'ownroot', again } = {}) {
  // `again`: a stopped own gateway to start anew on its directory, data,
  // settings and port (a restart with offline work in between)
  const dir = again?.dir ?? await mkdtemp(join(tmpdir(), 'meld-gateway-own-'));
  const settings = again?.settings ?? await (async () => {
    const { stdout } = await promisify(execFile)(bin, ['init', '--gateway', 'ex.org', '--root', root, ...initArgs],
      { cwd: dir });
    return Object.fromEntries(stdout.split('\n').filter(l => l.startsWith('M_LD_GATEWAY_'))
      .map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  })();
  const port = again?.port ?? await freePort();
  const dataPath = join(dir, 'data'), logPath = join(dir, 'gateway.log');
  const log = await open(logPath, 'a');
  const child = spawn(bin, ['serve'], {
    env: { ...process.env, ...settings, M_LD_GATEWAY_DATA_PATH: dataPath,
      M_LD_GATEWAY_ADDRESS__HOST: '127.0.0.1', M_LD_GATEWAY_ADDRESS__PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', log.fd, log.fd]
  });
  await log.close();
  const exited = new Promise(resolve => child.once('exit', resolve));
  // Listening once the port accepts connections (HTTP or HTTPS alike)
  for (const until = Date.now() + 15000; ;) {
    const up = await new Promise(resolve => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up)
      break;
    if (Date.now() > until)
      throw new Error(`own gateway not listening on ${port}: ${(await readFile(logPath, 'utf8')).slice(-1000)}`);
    await sleep(50);
  }
  return {
    dir, dataPath, logPath, port, settings,
    rootKey: settings.M_LD_GATEWAY_AUTH__KEY,
    log: () => readFile(logPath, 'utf8'),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    }
  };
}
