// TLS served directly: a second gateway started with the certificate from
// `init --self-signed`; real clones (in a child process trusting the
// development CA via NODE_EXTRA_CA_CERTS) sync through wss://, and plain
// HTTP to that port is refused.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ownGateway } from '../lib/gateway.mjs';

export const name = 'tls-wss';
export const timeoutMs = 60000;
const here = dirname(fileURLToPath(import.meta.url));

export default async function (ctx) {
  const { assert } = ctx;
  if (!ctx.gateway)
    ctx.skip('needs the gateway binary (spawned by run.mjs)');
  const gw = await ownGateway(ctx.gateway.bin, { root: 'tlsroot', initArgs: ['--self-signed', '--tls-dir', 'tls'] });
  assert.ok(gw.settings.M_LD_GATEWAY_TLS__CERT && gw.settings.M_LD_GATEWAY_TLS__KEY, 'init prints the TLS settings');
  const { port, dir } = gw;
  try {
    const origin = `https://localhost:${port}`;
    const rootKey = gw.rootKey;
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, [join(here, '..', 'tls', 'client.mjs'), origin, 'ex.org', 'tlsroot', rootKey], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'tls', 'ca.pem') }, timeout: 45000
      }, (err, stdout, stderr) => err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout));
    }).catch(async e => {
      throw new Error(`${e.message}\ngateway log:\n${(await gw.log()).slice(-2000)}`);
    });
    assert.match(out, /^ok$/m);
  } finally {
    await gw.stop();
  }
}
