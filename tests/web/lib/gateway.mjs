// Spawns the meld-gateway binary on a free port, with a fresh data
// directory, a random root key and a loopback SMTP server for activation mail.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = ms => new Promise(r => setTimeout(r, ms));
const randomAp = n => Array.from({ length: n }, () => 'abcdefghijklmnop'[randomInt(16)]).join('');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export class Gateway {
  constructor({ bin, domain = 'ex.org', rootAccount = 'webroot', smtpPort }) {
    Object.assign(this, { bin, domain, rootAccount, smtpPort });
    this.rootKey = `${rootAccount}.${randomAp(6)}:${randomAp(74)}`;
  }

  async start(readyWithin = 30000) {
    this.dir = await mkdtemp(join(tmpdir(), 'meld-gateway-web-'));
    this.logPath = join(this.dir, 'gateway.log');
    this.port = await freePort();
    this.origin = `http://127.0.0.1:${this.port}`;
    const log = await open(this.logPath, 'a');
    this.child = spawn(this.bin, ['serve'], {
      env: {
        ...process.env,
        M_LD_GATEWAY_GATEWAY: this.domain,
        M_LD_GATEWAY_AUTH__KEY: this.rootKey,
        M_LD_GATEWAY_DATA_PATH: join(this.dir, 'data'),
        M_LD_GATEWAY_ADDRESS__HOST: '127.0.0.1',
        M_LD_GATEWAY_ADDRESS__PORT: String(this.port),
        M_LD_GATEWAY_SMTP__HOST: '127.0.0.1',
        M_LD_GATEWAY_SMTP__PORT: String(this.smtpPort),
        M_LD_GATEWAY_SMTP__FROM: `Web tests <noreply@${this.domain}>`,
        LOG_LEVEL: process.env.GATEWAY_LOG_LEVEL ?? 'info'
      },
      stdio: ['ignore', log.fd, log.fd]
    });
    await log.close();
    this.exited = new Promise(resolve => {
      this.child.on('exit', (code, signal) => resolve(this.exit = { code, signal }));
      this.child.on('error', error => resolve(this.exit = { error }));
    });
    const t0 = Date.now();
    for (;;) {
      if (this.exit) throw new Error(`gateway ${this.bin} exited before it was ready: ${JSON.stringify(this.exit)}`);
      try {
        if ((await fetch(`${this.origin}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) break;
      } catch { /* not listening yet */ }
      if (Date.now() - t0 > readyWithin) throw new Error(`gateway not ready within ${readyWithin} ms`);
      await sleep(100);
    }
    // The root key pair is generated in the background on a first start
    for (let i = 0; i < 300; i++) {
      if ((await fetch(`${this.origin}/api/v1/publicKey`)).ok) return;
      await sleep(100);
    }
    throw new Error('the root public key never became available');
  }

  /** Fetch on the gateway, with optional Basic credentials {account, key}. */
  fetch(path, { auth, ...init } = {}) {
    const headers = { ...init.headers };
    if (auth) headers.Authorization = `Basic ${Buffer.from(`${auth.account}:${auth.key}`).toString('base64')}`;
    return fetch(`${this.origin}${path}`, { ...init, headers });
  }

  async stop() {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  async logTail(lines = 30) {
    try {
      return (await readFile(this.logPath, 'utf8')).split('\n').slice(-lines - 1).join('\n');
    } catch (e) {
      return `(no log: ${e.message})`;
    }
  }

  remove() {
    return rm(this.dir, { recursive: true, force: true });
  }
}
