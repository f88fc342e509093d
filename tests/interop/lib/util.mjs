// Small generic helpers shared by the runner and the scenarios.
import { randomBytes } from 'node:crypto';

export const sleep = ms => new Promise(r => setTimeout(r, ms));

/** Races a promise against a timer; the error names what was awaited. */
export async function deadline(promise, ms, what) {
  let timer;
  const expiry = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stable JSON text (object keys sorted) for comparing values regardless of key order. */
export function stableJson(v) {
  if (Array.isArray(v))
    return '[' + v.map(stableJson).join(',') + ']';
  if (v !== null && typeof v === 'object')
    return '{' + Object.keys(v).sort().map(k => JSON.stringify(k) + ':' + stableJson(v[k])).join(',') + '}';
  return JSON.stringify(v);
}

const byStable = (a, b) => {
  const x = stableJson(a), y = stableJson(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Puts m-ld subjects in a comparable form: every property value becomes a
 * sorted array (m-ld properties are sets, and a single value may or may not be
 * wrapped in an array), subjects ordered by @id.
 */
export function canonicalSubjects(subjects) {
  // Array.from: m-ld's SubjectGraph is an Array subclass, and map() would keep it
  return Array.from(subjects, s => Object.fromEntries(Object.keys(s).sort().map(k =>
    [k, k === '@id' ? s[k] : [].concat(s[k]).sort(byStable)])))
    .sort((a, b) => a['@id'] < b['@id'] ? -1 : a['@id'] > b['@id'] ? 1 : 0);
}

/** Lower-case letters a–p encoding of random bytes (the gateway's key alphabet). */
export function randomAp(chars) {
  const bytes = randomBytes(Math.ceil(chars / 2));
  let out = '';
  for (const b of bytes)
    out += String.fromCharCode(97 + (b >> 4), 97 + (b & 15));
  return out.slice(0, chars);
}

/** A fresh name component, [a-z0-9-], e.g. `anon-4fa01c9b2e` */
export const freshName = (prefix = 'x') => `${prefix}-${randomBytes(5).toString('hex')}`;

/** A UUID-style subdomain name: `c` + 24 of [a-z0-9] */
export function uuidName() {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return 'c' + [...randomBytes(24)].map(b => alphabet[b % 36]).join('');
}

/** Polls fn until it gives a truthy value; errors count as "not yet". */
export async function pollUntil(fn, { timeout = 20000, every = 100, what = 'condition', stop } = {}) {
  const start = Date.now();
  let last;
  for (;;) {
    if (stop?.())
      throw new Error(`gave up waiting for ${what}: scenario over`);
    try {
      const v = await fn();
      if (v)
        return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start >= timeout) {
      let detail = '';
      if (last instanceof Error)
        detail = last.message;
      else if (last !== undefined)
        detail = String(JSON.stringify(last)).slice(0, 400);
      throw new Error(`waited ${timeout} ms for ${what}` + (detail ? ` (last seen: ${detail})` : ''));
    }
    await sleep(every);
  }
}

/** Resolves when pred() holds, checking every 20 ms; rejects after `ms` */
export function waitUntil(pred, ms, what) {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pred())
        resolve();
      else if (Date.now() > until)
        reject(new Error(`${what}: not within ${ms} ms`));
      else
        setTimeout(check, 20);
    };
    check();
  });
}
