// What every scenario gets: the gateway under test, HTTP and account helpers,
// real m-ld clones and bare sockets, all closed when the scenario ends.
import assert from 'node:assert/strict';
import { clone as startClone, uuid } from '@m-ld/m-ld';
import { IoRemotes } from '@m-ld/m-ld/ext/socket.io';
import { MemoryLevel } from 'memory-level';
import { request } from './http.mjs';
import { handshake, verdict, emitAcked } from './sockets.mjs';
import {
  sleep, deadline, pollUntil, waitUntil, canonicalSubjects, stableJson, freshName, uuidName
} from './util.mjs';

/** Thrown by ctx.skip(): the runner prints SKIP, which does not fail the run */
export class Skip extends Error {}

/**
 * IoRemotes that remember themselves per clone @id, so that a test can cut a
 * clone's connection (see TestContext#cutConnection) while the clone stays open.
 */
const remotesById = new Map();
class TrackedIoRemotes extends IoRemotes {
  constructor(config, extensions, connect) {
    super(config, extensions, connect);
    remotesById.set(config['@id'], this);
  }
}

const macrotask = () => new Promise(resolve => setImmediate(resolve));

const KEY_FORMAT = /^[a-z0-9_-]+\.[a-z0-9]+:[a-z0-9]+$/;
const ALL_SUBJECTS = Object.freeze({ '@describe': '?s', '@where': { '@id': '?s' } });

export class TestContext {
  /**
   * @param {{origin: string, domain: string, root: {user: string, key: string},
   *   verbose: boolean, name: string}} opts
   */
  constructor({ origin, domain, root, verbose, name, gateway = null }) {
    this.gateway = gateway; // lib/gateway.mjs#SpawnedGateway, or null for GATEWAY_ORIGIN
    this.origin = origin.replace(/\/+$/, '');
    this.domain = domain;
    this.root = root;
    this.verbose = verbose;
    this.name = name;
    this.assert = assert;
    this.sleep = sleep;
    this.deadline = deadline;
    this.until = waitUntil;
    this.pollUntil = pollUntil;
    this.stableJson = stableJson;
    this.canonicalSubjects = canonicalSubjects;
    this.freshName = freshName;
    this.uuidName = uuidName;
    this.uuid = uuid;
    this.verdict = verdict;
    this.emitAcked = emitAcked;
    this.finished = false;
    this.openClones = new Set();
    this.openSockets = new Set();
    this.MemoryLevel = MemoryLevel;
  }

  /** Ends the scenario as skipped (not a failure) */
  skip(reason) {
    throw new Skip(reason);
  }

  log(...args) {
    if (this.verbose)
      console.error(`  · [${this.name}]`, ...args);
  }

  // --------------------------------------------------------------- HTTP

  http(method, path, opts = {}) {
    return request(this.origin, method, path, { log: m => this.log(m), ...opts });
  }

  /** Asserts the reply's status is one of those given; returns the reply */
  expect(reply, ...statuses) {
    assert.ok(statuses.includes(reply.status),
      `${reply.what} (expected ${statuses.join(' or ')}): ${reply.text.slice(0, 300)}`);
    return reply;
  }

  /** Root creates account `<prefix>-<random>` and a key for it */
  async createAccount(prefix) {
    const name = freshName(prefix);
    const reply = this.expect(await this.http('POST', `/api/v1/user/${name}/key`,
      { auth: this.root }), 200);
    const key = reply.json?.auth?.key;
    assert.match(String(key), KEY_FORMAT, `key in ${reply.text}`);
    return { name, key, auth: { user: name, key } };
  }

  /** PATCH /api/v1/user/:acc with the account's own key; expects 204 */
  async patchAccount(acc, update) {
    return this.expect(await this.http('PATCH', `/api/v1/user/${acc.name}`,
      { auth: acc.auth, body: update }), 204);
  }

  /** Account with UUID naming and the given remotesAuth (omitted = default) */
  async uuidAccount(prefix, remotesAuth) {
    const acc = await this.createAccount(prefix);
    const insert = { naming: 'uuid' };
    if (remotesAuth !== undefined)
      insert.remotesAuth = remotesAuth;
    await this.patchAccount(acc, { '@insert': insert });
    return acc;
  }

  /** POST /api/v1/domain/:acc → a fresh UUID subdomain config (checked) */
  async newUuidDomain(acc) {
    const reply = this.expect(await this.http('POST', `/api/v1/domain/${acc.name}`), 200);
    const config = reply.json;
    const suffix = `.${acc.name}.${this.domain}`;
    assert.ok(typeof config['@domain'] === 'string' && config['@domain'].endsWith(suffix) &&
      /^c[a-z0-9]{24}$/.test(config['@domain'].slice(0, -suffix.length)),
    `@domain should be c<24 [a-z0-9]>${suffix}: ${reply.text}`);
    assert.equal(config.genesis, true, `genesis in ${reply.text}`);
    assert.equal(typeof config.io?.uri, 'string', `io.uri in ${reply.text}`);
    return config;
  }

  /** The m-ld domain of subdomain `sub` of account `acc` */
  domainOf(acc, sub) {
    return `${sub}.${acc.name ?? acc}.${this.domain}`;
  }

  // ------------------------------------------------------------- clones

  /**
   * Starts a real m-ld clone (memory-level storage, IoRemotes) through the
   * gateway under test, and waits until it is online unless `online: false`.
   * `auth`: the handshake credentials (`null` = anonymous, undefined = as in
   * the config); `transports`: e.g. `['polling']` (default: polling, then
   * upgrade to websocket). `io.uri` is always this gateway's origin.
   * `backend`: the clone's memory-level store; pass a closed clone's
   * `meld.backend` with its `meld.id` to bring that clone back.
   * `app`: the m-ld app (e.g. `principal` and `transportSecurity`).
   */
  async clone(config, {
    auth, genesis, id = uuid(), online = true, transports, timeout = 20000, backend = new MemoryLevel(), app
  } = {}) {
    assert.ok(!this.finished, 'scenario already over');
    const cfg = structuredClone(config);
    cfg['@id'] = id;
    if (genesis !== undefined)
      cfg.genesis = genesis;
    const opts = { ...cfg.io?.opts, reconnectionDelay: 200, reconnectionDelayMax: 1000 };
    if (auth === null)
      delete opts.auth;
    else if (auth !== undefined)
      opts.auth = auth;
    if (transports)
      opts.transports = transports;
    cfg.io = { ...cfg.io, uri: this.origin, opts };
    cfg.logLevel = this.verbose ? 'warn' : 'silent';
    const starting = startClone(backend, TrackedIoRemotes, cfg, app);
    let meld;
    try {
      meld = await deadline(starting, timeout, `clone ${id} of ${cfg['@domain']} starting`);
      if (online)
        await deadline(meld.status.becomes({ online: true }), timeout,
          `clone ${id} of ${cfg['@domain']} coming online`);
    } catch (e) {
      starting.then(m => m.close(), () => {}).catch(() => {});
      throw e;
    }
    meld.id = id;
    meld.backend = backend;
    this.openClones.add(meld);
    if (online)
      await this.untilPresent(cfg['@domain'], opts.auth, id);
    return meld;
  }

  /**
   * Waits until the relay lists `id` as present in the domain, as seen by a
   * bare socket. A clone reports itself online before its `present: true` has
   * reached the relay (over long-polling, it waits for the next POST); a new
   * clone connecting in that window finds nobody and fails as "siloed".
   */
  async untilPresent(domain, auth, id, ms = 10000) {
    const r = await this.socket({ domain, auth });
    assert.ok(r.connected, `presence check on ${domain}: ${verdict(r)}`);
    try {
      await waitUntil(() => r.socket.presences.at(-1)?.includes(id), ms,
        `clone ${id} listed present on ${domain} (lists: ${JSON.stringify(r.socket.presences)})`);
    } finally {
      r.socket.close();
      this.openSockets.delete(r.socket);
    }
  }

  /**
   * Expects a clone with these options NOT to get going: its start rejects,
   * or it never comes online. Returns a description of how it failed.
   */
  async cloneFails(config, opts, { within = 15000 } = {}) {
    let meld;
    try {
      meld = await this.clone(config, { ...opts, online: false, timeout: within });
    } catch (e) {
      return `start rejected: ${e?.message ?? e}`;
    }
    try {
      await deadline(meld.status.becomes({ online: true }), 3000, 'online');
    } catch {
      await this.closeClone(meld);
      return 'started but never came online';
    }
    await this.closeClone(meld);
    assert.fail(`clone of ${config['@domain']} with auth ${JSON.stringify(opts?.auth)} came online; it should have been refused`);
  }

  async closeClone(meld) {
    this.openClones.delete(meld);
    await deadline(meld.close(), 10000, `closing clone ${meld.id}`);
  }

  /**
   * Reads one subject with a fully consumed describe (not clone.get). Every
   * read starts in a new macrotask: a read started in the same microtask run
   * in which the previous one finished finds m-ld 0.10's lock period resolved
   * but still registered, fails with an unhandled "Promise not available for
   * sharing", and the clone never answers a read again.
   */
  async subject(meld, id) {
    await macrotask();
    const found = await meld.read({ '@describe': id });
    return found[0];
  }

  /** All subjects of a clone, canonicalised */
  async allSubjects(meld) {
    await macrotask();
    return canonicalSubjects(await meld.read(ALL_SUBJECTS));
  }

  /** Waits until `pred(subject)` holds in the clone; returns the subject */
  async untilSubject(meld, id, pred = s => s != null, timeout = 15000) {
    let seen;
    await pollUntil(async () => pred(seen = await this.subject(meld, id)),
      { timeout, what: `subject "${id}" in clone ${meld.id}`, stop: () => this.finished });
    return seen;
  }

  /** Waits until all clones hold identical data; returns it (canonical) */
  async converged(melds, timeout = 20000) {
    let states;
    await pollUntil(async () => {
      states = await Promise.all(melds.map(m => this.allSubjects(m)));
      return states.every(s => stableJson(s) === stableJson(states[0]));
    }, {
      timeout, every: 200, stop: () => this.finished,
      what: `${melds.length} clones to converge (states: ${JSON.stringify(states)?.slice(0, 600)})`
    });
    return states[0];
  }

  /**
   * Cuts a clone's connection to the relay for good (its socket stops
   * reconnecting and its transport is closed), leaving the clone open: it
   * goes offline and can still write locally.
   */
  async cutConnection(meld) {
    const remotes = remotesById.get(meld.id);
    assert.ok(remotes, `no remotes recorded for clone ${meld.id}`);
    const socket = remotes.socket;
    socket.io.reconnection(false);
    socket.io.engine.close(); // 'transport close': the clone sees a disconnect
    await deadline(meld.status.becomes({ online: false }), 10000, `clone ${meld.id} going offline`);
  }

  /** Reconnects a clone whose connection was cut (cutConnection) */
  async reconnect(meld) {
    const socket = remotesById.get(meld.id).socket;
    socket.io.reconnection(true);
    socket.connect();
  }

  /**
   * Starts a new clone of `config` that is expected to be alone with the
   * gateway (so its snapshot can only come from the backup clone), and waits
   * until it is up to date and its data stops changing. Returns
   * `{meld, data}` (data canonical).
   */
  async freshClone(config, opts = {}, { settleMs = 300, timeout = 30000 } = {}) {
    const meld = await this.clone(config, opts);
    await deadline(meld.status.becomes({ online: true, outdated: false }), timeout,
      `fresh clone ${meld.id} up to date`);
    const data = await this.settled(meld, { settleMs, timeout });
    return { meld, data };
  }

  /** Polls a clone's data until it is the same for `settleMs`; returns it */
  async settled(meld, { settleMs = 300, timeout = 30000 } = {}) {
    let last = null, since = Date.now();
    const t0 = Date.now();
    for (;;) {
      const now = stableJson(await this.allSubjects(meld));
      if (now !== last) {
        last = now;
        since = Date.now();
      } else if (Date.now() - since >= settleMs) {
        return JSON.parse(now);
      }
      if (Date.now() - t0 > timeout)
        throw new Error(`clone ${meld.id}'s data still changing after ${timeout} ms`);
      await sleep(100);
    }
  }

  /** Asserts two canonical data sets are equal, naming the first differences */
  sameData(got, want, what) {
    if (stableJson(got) === stableJson(want))
      return;
    const byId = list => new Map(list.map(s => [s['@id'], stableJson(s)]));
    const g = byId(got), w = byId(want);
    const missing = [...w.keys()].filter(id => !g.has(id));
    const extra = [...g.keys()].filter(id => !w.has(id));
    const differ = [...w.keys()].filter(id => g.has(id) && g.get(id) !== w.get(id));
    assert.fail(`${what}: ${got.length} subjects, expected ${want.length}; ` +
      `missing ${missing.length} ${JSON.stringify(missing.slice(0, 5))}, ` +
      `unexpected ${extra.length} ${JSON.stringify(extra.slice(0, 5))}, ` +
      `different ${differ.length} ${differ.slice(0, 2).map(id =>
        `${id}: got ${g.get(id)?.slice(0, 200)} want ${w.get(id)?.slice(0, 200)}`).join('; ')}`);
  }

  // -------------------------------------------------- named subdomains

  subdomainPath(acc, name) {
    return `/api/v1/domain/${acc.name ?? acc}/${name}`;
  }

  /**
   * PUT /api/v1/domain/:acc/:name (the account's own key unless `auth`);
   * checks the config's shape and returns it. No presence barrier: the
   * gateway promises its backup is present when PUT answers.
   */
  async putSubdomain(acc, name, body, { auth = acc.auth } = {}) {
    const reply = this.expect(await this.http('PUT', this.subdomainPath(acc, name), { auth, body }), 200);
    const config = reply.json;
    assert.equal(config['@domain'], this.domainOf(acc, name), `@domain in ${reply.text}`);
    assert.equal(config.genesis, false, `genesis in ${reply.text}`);
    assert.equal(typeof config.io?.uri, 'string', `io.uri in ${reply.text}`);
    assert.equal(typeof config.io?.opts?.auth?.key, 'string', `io.opts.auth.key in ${reply.text}`);
    assert.ok(!reply.text.includes(acc.key.split(':')[1]), `the account's secret must not be echoed: ${reply.text}`);
    assert.ok(!reply.text.includes(this.root.key.split(':')[1]), `the root secret must not be echoed: ${reply.text}`);
    return config;
  }

  /** An account with a fresh named subdomain: {acc, name, config, domain} */
  async namedSubdomain(prefix) {
    const acc = await this.createAccount(prefix);
    const name = freshName('sd');
    const config = await this.putSubdomain(acc, name);
    return { acc, name, config, domain: config['@domain'] };
  }

  /**
   * The relay's presence list for a domain as a newcomer sees it (a bare
   * socket that never says present).
   */
  async presenceOf(domain, auth) {
    const r = await this.socket({ domain, auth });
    assert.ok(r.connected, `presence check on ${domain}: ${verdict(r)}`);
    try {
      await waitUntil(() => r.socket.presences.length > 0, 3000, `presence on ${domain}`);
      return r.socket.presences[0];
    } finally {
      r.socket.close();
      this.openSockets.delete(r.socket);
    }
  }

  // ------------------------------------------------------------ gateway

  /**
   * Restarts the spawned gateway (same port, data and root key): `SIGTERM`
   * (must exit cleanly within 5 s) or `SIGKILL`. Skips the scenario when
   * testing a gateway this harness did not start.
   */
  async restartGateway({ signal = 'SIGTERM' } = {}) {
    if (!this.gateway)
      this.skip('needs a gateway spawned by run.mjs (not GATEWAY_ORIGIN)');
    const r = await this.gateway.restart({ signal });
    this.log(`gateway restarted after ${signal}: stopped in ${r.stoppedMs} ms (${r.exit}), ready in ${r.readyMs} ms`);
    return r;
  }

  /** The spawned gateway's log so far ('' when not spawned) */
  async gatewayLog() {
    if (!this.gateway)
      return '';
    const { readFile } = await import('node:fs/promises');
    return readFile(this.gateway.logPath, 'utf8');
  }

  // ------------------------------------------------------------ sockets

  /**
   * Bare Socket.io handshake. `domain`/`id` fill the query unless `query` is
   * given in full. See sockets.mjs#handshake for the result.
   */
  socket({ domain, id = uuid(), query, auth, transports, within } = {}) {
    return handshake(this.origin, {
      query: query ?? { '@id': id, '@domain': domain },
      auth, transports, within, track: this.openSockets
    });
  }

  /** A socket that must connect; returns the Socket.io socket */
  async connectedSocket(opts) {
    const r = await this.socket(opts);
    assert.ok(r.connected, `socket on ${opts.domain} as ${opts.id} should connect: ${verdict(r)}`);
    r.socket.mid = opts.id;
    return r.socket;
  }

  /** Asserts that a handshake is refused with a prompt connect_error */
  async refused(what, opts) {
    const r = await this.socket(opts);
    assert.equal(r.outcome, 'connect_error', `${what}: should get connect_error, got ${verdict(r)}`);
    assert.ok(r.error?.message && !/timeout/i.test(r.error.message),
      `${what}: connect_error should say why: "${r.error?.message}"`);
    this.log(`${what} → refused: ${r.error.message} (${r.ms} ms)`);
    return r.error.message;
  }

  // ------------------------------------------------------------ cleanup

  async cleanup() {
    this.finished = true;
    for (const s of this.openSockets)
      s.close();
    this.openSockets.clear();
    await Promise.all([...this.openClones].map(m =>
      deadline(m.close(), 10000, `closing clone ${m.id}`).catch(e => this.log(e.message))));
    this.openClones.clear();
  }
}
