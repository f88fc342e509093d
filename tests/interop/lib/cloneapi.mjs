// Clone API helpers: reads and writes of a named subdomain's state over
// HTTP, the Flintstones data a JS clone writes, and result normalisation.
import { canonicalSubjects, stableJson, sleep } from './util.mjs';

/** Flintstones-like people (and a pet), written by a JS clone */
export const FLINTSTONES = [
  { '@id': 'fred', '@type': 'Person', name: 'Fred', age: 42, height: 6, spouse: { '@id': 'wilma' } },
  { '@id': 'wilma', '@type': 'Person', name: 'Wilma', age: 39, height: 5.5, spouse: { '@id': 'fred' } },
  { '@id': 'barney', '@type': 'Person', name: 'Barney', age: 41, spouse: { '@id': 'betty' }, nick: ['Barn', 'Rubbles'] },
  { '@id': 'betty', '@type': 'Person', name: 'Betty', age: 38, spouse: { '@id': 'barney' } },
  { '@id': 'pebbles', '@type': ['Person', 'Child'], name: 'Pebbles', age: 1,
    parent: [{ '@id': 'fred' }, { '@id': 'wilma' }] },
  { '@id': 'dino', '@type': 'Pet', name: 'Dino', owner: { '@id': 'fred' } }
];

/** Writes FLINTSTONES from a JS clone in a few transactions */
export async function writeFlintstones(meld) {
  await meld.write(FLINTSTONES[0]);
  await meld.write({ '@graph': FLINTSTONES.slice(1, 4) });
  await meld.write(FLINTSTONES[4]);
  await meld.write({ '@insert': FLINTSTONES[5] });
}

export const ALL = Object.freeze({ '@describe': '?s', '@where': { '@id': '?s' } });

/** Rows in a comparable order: each row's stable JSON, sorted */
export const canonicalRows = rows => Array.from(rows, r => stableJson(r)).sort();

/** NDJSON text → values */
export function ndjson(text) {
  return text.split('\n').filter(line => line.trim()).map(line => JSON.parse(line));
}

/** A Clone API client for one subdomain, with the given auth */
export class StateApi {
  constructor(ctx, acc, name, auth = acc.auth) {
    Object.assign(this, { ctx, acc, name, auth });
    this.path = ctx.subdomainPath(acc, name);
  }

  /** GET …/state?q= : the raw reply */
  getRaw(query, { auth = this.auth, param = 'q' } = {}) {
    const q = typeof query === 'string' ? query : JSON.stringify(query);
    return this.ctx.http('GET', `${this.path}/state?${param}=${encodeURIComponent(q)}`, { auth });
  }

  /** GET …/state?q= expecting 200: the results */
  async read(query, opts) {
    const r = this.ctx.expect(await this.getRaw(query, opts), 200);
    this.ctx.assert.match(r.contentType, /application\/x-ndjson/, `content type of ${r.what}`);
    this.ctx.assert.match(r.headers.get('etag') ?? '', /^"\d+"$/, `ETag of ${r.what}`);
    return ndjson(r.text);
  }

  /** All subjects, canonical */
  async all() {
    return canonicalSubjects(await this.read(ALL));
  }

  /** The current ETag */
  async etag() {
    const r = this.ctx.expect(await this.getRaw(ALL), 200);
    return r.headers.get('etag');
  }

  /** POST …/state (or ?lock) : the raw reply */
  post(body, { auth = this.auth, lock = false, headers } = {}) {
    return this.ctx.http('POST', `${this.path}/state${lock ? '?lock' : ''}`, { auth, body, headers });
  }

  /** POST …/poll : the raw reply */
  poll({ auth = this.auth } = {}) {
    return this.ctx.http('POST', `${this.path}/poll`, { auth });
  }

  /** GET …/state?lock → true / false */
  async locked({ auth = this.auth } = {}) {
    const r = this.ctx.expect(await this.ctx.http('GET', `${this.path}/state?lock`, { auth }), 200);
    return r.json;
  }

  /** DELETE …/state?lock : the raw reply */
  unlock({ auth = this.auth } = {}) {
    return this.ctx.http('DELETE', `${this.path}/state?lock`, { auth });
  }

  /** Waits until the gateway's state satisfies pred(all subjects) */
  async until(pred, what, timeout = 15000) {
    const t0 = Date.now();
    let last;
    for (;;) {
      last = await this.all();
      if (pred(last))
        return last;
      if (Date.now() - t0 > timeout)
        throw new Error(`gateway state never ${what}: ${JSON.stringify(last).slice(0, 400)}`);
      await sleep(100);
    }
  }

  /**
   * Opens the Server-Sent Events stream of updates; resolves once the
   * gateway says it is subscribed (`: ready`). `events` fills with each
   * `data:` event's parsed JSON; `close()` ends it.
   */
  async updates({ auth = this.auth } = {}) {
    const abort = new AbortController();
    const headers = { authorization: 'Basic ' + Buffer.from(`${auth.user}:${auth.key}`).toString('base64') };
    const res = await fetch(`${this.ctx.origin}${this.path}/updates`, { headers, signal: abort.signal });
    const stream = { status: res.status, contentType: res.headers.get('content-type') ?? '', events: [],
      other: [], close: () => abort.abort() };
    if (res.status !== 200) {
      stream.text = await res.text();
      return stream;
    }
    let ready;
    stream.ready = new Promise(resolve => ready = resolve);
    const decoder = new TextDecoder();
    let buffer = '';
    (async () => {
      try {
        for await (const chunk of res.body) {
          buffer += decoder.decode(chunk, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const lines = block.split('\n');
            if (lines.some(l => l === ': ready' || l === ':ready'))
              ready();
            const data = lines.filter(l => l.startsWith('data:')).map(l => l.slice(5).replace(/^ /, ''));
            const event = lines.find(l => l.startsWith('event:'));
            if (data.length && !event)
              stream.events.push(JSON.parse(data.join('\n')));
            else if (data.length || event)
              stream.other.push(block);
          }
        }
      } catch {
        // aborted
      }
      stream.ended = true;
    })();
    await this.ctx.deadline(stream.ready, 5000, 'update stream ready');
    return stream;
  }
}

/** An update's @delete and @insert, canonical (to compare with a JS update) */
export const canonicalUpdate = u => ({
  '@delete': canonicalSubjects(u['@delete'] ?? []),
  '@insert': canonicalSubjects(u['@insert'] ?? [])
});
