// m-ld 0.10 wire format helpers (MessagePack through the client's own codec),
// for tests that inspect or forge relay payloads.
import { createRequire } from 'node:module';

// @ably/msgpack-js is what @m-ld/m-ld encodes with: resolve it from there
const meldRequire = createRequire(createRequire(import.meta.url).resolve('@m-ld/m-ld'));
const msgpack = meldRequire('@ably/msgpack-js');

export const encode = value => Buffer.from(msgpack.encode(value).buffer);
export const decode = buffer => msgpack.decode(Buffer.from(buffer));

/** m-ld BufferEncoding values */
export const Encoding = Object.freeze({ JSON: 0, MSGPACK: 1, GZIP: 2, SECURE: 3 });

/**
 * Decodes an `operation` payload: `{prev, enc, attr}`, where `enc` is the
 * MessagePack of `[version, from, time, update, encoding, principalId, agreed]`.
 * Returns `{prev, attr, enc, version, from, time, update, encoding}`.
 */
export function decodeOperation(payload) {
  const msg = decode(payload);
  const [version, from, time, update, encoding, principalId, agreed] = decode(msg.enc);
  return { prev: msg.prev, attr: msg.attr, enc: msg.enc, version, from, time, update, encoding, principalId, agreed };
}

/** Re-encodes an operation message with some fields of `enc` replaced */
export function forgeOperation(payload, { prev, attr, ...fields } = {}) {
  const op = decodeOperation(payload);
  const encArray = ['version', 'from', 'time', 'update', 'encoding', 'principalId', 'agreed']
    .map(k => k in fields ? fields[k] : op[k]);
  return encode({ prev: prev ?? op.prev, enc: encode(encArray), attr: attr === undefined ? op.attr : attr });
}
