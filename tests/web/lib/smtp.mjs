// A loopback SMTP sink: plain SMTP, no TLS or AUTH, every message kept in
// memory so that a test can wait for the one sent to an address.
import { createServer } from 'node:net';

export class SmtpSink {
  constructor() {
    this.messages = [];
    this.waiting = [];
    this.sockets = new Set();
    this.server = createServer(socket => this.session(socket));
  }

  /** Listens on a free loopback port; resolves with the port. */
  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve(this.port = this.server.address().port));
    });
  }

  close() {
    for (const s of this.sockets) s.destroy();
    return new Promise(resolve => this.server.close(() => resolve()));
  }

  session(socket) {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    const say = line => socket.write(`${line}\r\n`);
    let buffer = '', data = null, to = [];
    say('220 web-test sink ESMTP');
    socket.on('data', chunk => {
      buffer += chunk;
      for (let nl; (nl = buffer.indexOf('\n')) >= 0;) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (data) {
          if (line === '.') {
            this.received(to, data.join('\r\n'));
            data = null;
            to = [];
            say('250 OK queued');
          } else {
            data.push(line.startsWith('.') ? line.slice(1) : line); // dot-unstuffing
          }
          continue;
        }
        const verb = line.split(' ', 1)[0].toUpperCase();
        if (verb === 'EHLO') socket.write('250-web-test\r\n250 8BITMIME\r\n');
        else if (verb === 'HELO') say('250 web-test');
        else if (verb === 'MAIL') { to = []; say('250 OK'); }
        else if (verb === 'RCPT') { to.push((/<([^>]*)>/.exec(line)?.[1] ?? '').toLowerCase()); say('250 OK'); }
        else if (verb === 'DATA') { data = []; say('354 go ahead'); }
        else if (verb === 'RSET' || verb === 'NOOP') say('250 OK');
        else if (verb === 'QUIT') { say('221 bye'); socket.end(); }
        else say('502 not implemented');
      }
    });
  }

  received(to, raw) {
    const split = raw.indexOf('\r\n\r\n');
    const head = split < 0 ? raw : raw.slice(0, split);
    let body = split < 0 ? '' : raw.slice(split + 4);
    const cte = /^content-transfer-encoding:\s*(\S+)/im.exec(head)?.[1]?.toLowerCase();
    if (cte === 'quoted-printable')
      body = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    else if (cte === 'base64')
      body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    const message = { to, head, body };
    this.messages.push(message);
    for (const w of [...this.waiting])
      if (to.includes(w.address)) {
        this.waiting.splice(this.waiting.indexOf(w), 1);
        w.resolve(message);
      }
  }

  /** The next message to `address` after `since` messages, within `ms`. */
  next(address, { since = 0, ms = 15000 } = {}) {
    address = address.toLowerCase();
    const already = this.messages.slice(since).find(m => m.to.includes(address));
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const w = { address, resolve };
      this.waiting.push(w);
      setTimeout(() => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) {
          this.waiting.splice(i, 1);
          reject(new Error(`no email to ${address} within ${ms} ms`));
        }
      }, ms);
    });
  }
}
