// Bare Socket.io connections speaking the m-ld handshake, for relay tests.
import { io } from 'socket.io-client';

/**
 * Opens a socket with the given handshake and resolves once the relay has
 * decided: `{outcome: 'connected', socket}`, `{outcome: 'connect_error', error}`,
 * `{outcome: 'disconnect', reason}` (transport closed without a verdict) or
 * `{outcome: 'timeout'}`. `connected` is true only for the first.
 *
 * The socket records what the relay sends: `socket.presences` (each presence
 * list, in order) and `socket.received` (every event, as
 * `{event, args, at}`), so that tests can assert on deliveries afterwards.
 *
 * @param {string} origin
 * @param {object} opts
 * @param {Record<string, any>} [opts.query] the full handshake query (`@id`, `@domain`)
 * @param {any} [opts.auth] the handshake auth payload (`{user, key}`), omitted if undefined
 * @param {string[]} [opts.transports]
 * @param {number} [opts.within] ms to wait for a verdict
 * @param {Set} [opts.track] every socket opened is added here (for cleanup)
 */
export function handshake(origin, { query, auth, transports, within = 8000, track } = {}) {
  const started = Date.now();
  return new Promise(resolve => {
    const options = { query, transports, reconnection: false, forceNew: true, timeout: within };
    if (auth !== undefined)
      options.auth = auth;
    const socket = io(origin, options);
    track?.add(socket);
    socket.presences = [];
    socket.received = [];
    socket.on('presence', ids => socket.presences.push(ids));
    socket.onAny((event, ...args) => socket.received.push({ event, args, at: Date.now() }));
    let settled = false;
    const settle = result => {
      if (settled)
        return;
      settled = true;
      clearTimeout(timer);
      result.ms = Date.now() - started;
      result.connected = result.outcome === 'connected';
      if (!result.connected)
        socket.close();
      resolve(result);
    };
    const timer = setTimeout(() => settle({ outcome: 'timeout' }), within);
    socket.once('connect', () => settle({ outcome: 'connected', socket }));
    socket.once('connect_error', error => settle({ outcome: 'connect_error', error }));
    socket.once('disconnect', reason => settle({ outcome: 'disconnect', reason }));
  });
}

/** One line describing a handshake result, for assertion messages */
export function verdict(r) {
  switch (r.outcome) {
    case 'connected': return `connected (${r.ms} ms)`;
    case 'connect_error': return `connect_error "${r.error?.message}" (${r.ms} ms)`;
    case 'disconnect': return `transport closed without connect_error: ${r.reason} (${r.ms} ms)`;
    default: return `no verdict within ${r.ms} ms`;
  }
}

/** Emits with an ack and resolves with the ack's arguments (array), or rejects on timeout */
export function emitAcked(socket, event, args, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event} within ${ms} ms`)), ms);
    socket.emit(event, ...args, (...ackArgs) => {
      clearTimeout(timer);
      resolve(ackArgs);
    });
  });
}
