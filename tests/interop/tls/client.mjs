// Run as a child process with NODE_EXTRA_CA_CERTS naming the development CA
// (Node reads it only at start): two real clones sync through wss://, and a
// plain-HTTP request to the TLS port fails. Prints "ok" or throws.
// Usage: node tls/client.mjs <https-origin> <gateway-domain> <root-user> <root-key>
import { clone, uuid } from '@m-ld/m-ld';
import { IoRemotes } from '@m-ld/m-ld/ext/socket.io';
import { MemoryLevel } from 'memory-level';
import assert from 'node:assert/strict';

const [origin, domain, rootUser, rootKey] = process.argv.slice(2);
const basic = (u, k) => 'Basic ' + Buffer.from(`${u}:${k}`).toString('base64');
async function api(method, path, auth, body) {
  const res = await fetch(origin + path, {
    method, headers: { authorization: auth, 'content-type': 'application/json' },
    body: body && JSON.stringify(body)
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
const within = (p, ms, what) => Promise.race([p,
  new Promise((_, no) => setTimeout(() => no(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);

for (const until = Date.now() + 15000; ;) {
  try {
    if ((await fetch(`${origin}/healthz`)).ok) break;
  } catch (e) {
    if (Date.now() > until) throw e;
  }
  await new Promise(r => setTimeout(r, 100));
}
const account = `tls${Date.now().toString(36)}`;
const { auth: { key } } = await api('POST', `/api/v1/user/${account}/key`, basic(rootUser, rootKey));
await api('PATCH', `/api/v1/user/${account}`, basic(account, key), { '@insert': { naming: 'uuid', remotesAuth: 'anon' } });
const config = await api('POST', `/api/v1/domain/${account}`);
assert.equal(config['@domain'].endsWith(`.${account}.${domain}`), true);
const start = async genesis => {
  const meld = await clone(new MemoryLevel(), IoRemotes, {
    ...config, '@id': uuid(), genesis, logLevel: 'silent',
    io: { uri: origin, opts: { transports: ['websocket'] } }
  });
  await within(meld.status.becomes({ online: true }), 15000, 'online');
  return meld;
};
const a = await start(true);
await new Promise(r => setTimeout(r, 500));
const b = await start(false);
await a.write({ '@id': 'secure', over: 'wss' });
await within((async () => {
  for (;;) {
    if ((await b.get('secure'))?.over === 'wss') return;
    await new Promise(r => setTimeout(r, 100));
  }
})(), 15000, 'the write reaching the second clone');
await Promise.all([a.close(), b.close()]);

// Plain HTTP (and so ws://) to the TLS port is refused
const plain = origin.replace(/^https:/, 'http:');
let refused = false;
try {
  await fetch(`${plain}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(5000) });
} catch {
  refused = true;
}
assert.ok(refused, 'a plain HTTP request to the TLS port must fail');
console.log('ok');
process.exit(0);
