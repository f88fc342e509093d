// Test data written by real clones, with the data the writes should leave.
import { canonicalSubjects } from './util.mjs';

/**
 * Writes 50 subjects `s0`…`s49` from one clone: single-subject transactions,
 * a multi-subject transaction, references, multi-valued properties, then an
 * update (s0's label), a value delete (one of s30's tags) and a whole-subject
 * delete (s7). Resolves the canonical data the clone should then hold.
 */
export async function writeFifty(ctx, meld, { tag = 'x' } = {}) {
  const want = new Map();
  // 25 single-subject transactions
  for (let i = 0; i < 25; i++) {
    const s = { '@id': `s${i}`, '@type': 'Item', label: `Item ${i} by ${tag}`, index: i };
    await meld.write(s);
    want.set(s['@id'], s);
  }
  // one multi-subject transaction, with references and multi-valued properties
  const batch = [];
  for (let i = 25; i < 40; i++)
    batch.push({ '@id': `s${i}`, '@type': 'Item', label: `Item ${i} by ${tag}`, index: i,
      tags: ['t', `t${i}`, `u${i % 3}`], next: { '@id': `s${i - 1}` } });
  await meld.write({ '@graph': batch });
  batch.forEach(s => want.set(s['@id'], s));
  // 10 more singles with several references and numbers each
  for (let i = 40; i < 50; i++) {
    const s = { '@id': `s${i}`, '@type': ['Item', 'Linked'], label: `Item ${i} by ${tag}`, index: i,
      links: [{ '@id': `s${i - 40}` }, { '@id': `s${i - 20}` }], scores: [i, i * 2, i + 0.5] };
    await meld.write(s);
    want.set(s['@id'], s);
  }
  // an update, a value delete and a subject delete
  await meld.write({ '@delete': { '@id': 's0', label: `Item 0 by ${tag}` },
    '@insert': { '@id': 's0', label: 'First item', note: 'updated' } });
  want.set('s0', { ...want.get('s0'), label: 'First item', note: 'updated' });
  await meld.write({ '@delete': { '@id': 's30', tags: 't30' } });
  want.set('s30', { ...want.get('s30'), tags: ['t', 'u0'] });
  await meld.write({ '@delete': { '@id': 's7', '?p': '?o' }, '@where': { '@id': 's7', '?p': '?o' } });
  want.delete('s7');
  return canonicalSubjects([...want.values()]);
}

/** A string of `n` characters that does not compress to nothing */
export function longText(seed, n) {
  let out = '';
  let x = seed * 2654435761 >>> 0;
  while (out.length < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    out += (x >>> 8).toString(36) + ' ';
  }
  return out.slice(0, n);
}
