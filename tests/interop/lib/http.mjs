// HTTP client for the gateway's REST API (fetch, with Basic auth).

export class Reply {
  constructor(method, path, status, headers, text) {
    Object.assign(this, { method, path, status, headers, text });
  }
  get json() {
    try {
      return JSON.parse(this.text);
    } catch {
      throw new Error(`${this.what}: body is not JSON: ${this.text.slice(0, 300)}`);
    }
  }
  get contentType() {
    return this.headers.get('content-type') ?? '';
  }
  get what() {
    return `${this.method} ${this.path} → ${this.status}`;
  }
}

export const basic = ({ user, key }) =>
  'Basic ' + Buffer.from(`${user}:${key}`).toString('base64');

/**
 * @param {string} origin e.g. http://127.0.0.1:4000
 * @param {string} method
 * @param {string} path
 * @param {{auth?: {user: string, key: string} | string, body?: any, headers?: object,
 *   timeout?: number, log?: Function}} [opts]
 */
export async function request(origin, method, path, { auth, body, headers = {}, timeout = 20000, log } = {}) {
  const h = { ...headers };
  if (auth)
    h.authorization = typeof auth === 'string' ? auth : basic(auth);
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  const res = await fetch(origin + path, {
    method, headers: h, body: payload, signal: AbortSignal.timeout(timeout)
  });
  const reply = new Reply(method, path, res.status, res.headers, await res.text());
  log?.(`${reply.what} ${reply.text.slice(0, 300)}`);
  return reply;
}
