// TLS served directly: a second gateway started with the certificate from
// `init --self-signed`; real clones (in a child process trusting the
// development CA via NODE_EXTRA_CA_CERTS) sync through wss://, and plain
// HTTP to that port is refused.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../lib/gateway.mjs';

export const name = 'tls-wss';
export const timeoutMs = 60000;
const here = dirname(fileURLToPath(import.meta.url));

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('needs the gateway binary (spawned by run.mjs)');
  const dir = await mkdtemp(join(tmpdir(), 'meld-gateway-tls-'));
  const { stdout } = await promisify(execFile)(ctx.gateway.bin,
    ['init', '--gateway', 'ex.org', '--root', 'tlsroot', '--self-signed', '--tls-dir', join(dir, 'tls')]);
  const env = Object.fromEntries(stdout.split('\n').filter(l => l.startsWith('M_LD_GATEWAY_'))
    .map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.ok(env.M_LD_GATEWAY_TLS__CERT && env.M_LD_GATEWAY_TLS__KEY, `init prints the TLS settings: ${stdout}`);
  const port = await freePort();
  const log = await open(join(dir, 'gateway.log'), 'a');
  const child = spawn(ctx.gateway.bin, ['serve'], {
    env: { ...process.env, ...env, M_LD_GATEWAY_DATA_PATH: join(dir, 'data'),
      M_LD_GATEWAY_ADDRESS__PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', log.fd, log.fd]
  });
  await log.close();
  try {
    const origin = `https://localhost:${port}`;
    const rootKey = env.M_LD_GATEWAY_AUTH__KEY;
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, [join(here, '..', 'tls', 'client.mjs'), origin, 'ex.org', 'tlsroot', rootKey], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'tls', 'ca.pem') }, timeout: 45000
      }, (err, stdout, stderr) => err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout));
    }).catch(async e => {
      const { readFile } = await import('node:fs/promises');
      throw new Error(`${e.message}\ngateway log:\n${(await readFile(join(dir, 'gateway.log'), 'utf8')).slice(-2000)}`);
    });
    assert.match(out, /^ok$/m);
  } finally {
    child.kill('SIGTERM');
  }
}
