// Malformed or hostile handshakes are refused with connect_error, and leave
// the gateway serving.
export const name = 'handshake-garbage';
export const timeoutMs = 90000;

export default async function (ctx) {
  const { assert, uuid } = ctx;
  const acc = await ctx.uuidAccount('garb', 'anon');
  const config = await ctx.newUuidDomain(acc);
  const good = config['@domain'];
  const sub = good.split('.')[0];
  const gw = ctx.domain; // e.g. ex.org

  // Control: the good domain connects anonymously
  const control = await ctx.socket({ domain: good });
  assert.ok(control.connected, `control handshake on ${good}: ${ctx.verdict(control)}`);
  control.socket.close();

  const id = uuid();
  const bad = {
    'missing @id': { query: { '@domain': good } },
    'missing @domain': { query: { '@id': id } },
    'no query at all': { query: {} },
    'empty @id': { query: { '@id': '', '@domain': good } },
    'empty @domain': { query: { '@id': id, '@domain': '' } },
    'wrong gateway suffix': { domain: `${sub}.${acc.name}.evil.org` },
    'gateway domain as a prefix': { domain: `${sub}.${acc.name}.${gw}.evil.org` },
    'account glued to gateway domain': { domain: `${sub}.${acc.name}${gw}` },
    'extra label': { domain: `a.${good}` },
    'missing subdomain': { domain: `${acc.name}.${gw}` },
    'just the gateway domain': { domain: gw },
    'trailing dot': { domain: `${good}.` },
    'empty label': { domain: `${sub}..${acc.name}.${gw}` },
    'uppercase subdomain': { domain: `${sub.toUpperCase()}.${acc.name}.${gw}` },
    'uppercase account': { domain: `${sub}.${acc.name.toUpperCase()}.${gw}` },
    'uppercase gateway domain': { domain: `${sub}.${acc.name}.${gw.toUpperCase()}` },
    'bad character in subdomain': { domain: `c${'a'.repeat(23)}!.${acc.name}.${gw}` },
    'slash in subdomain': { domain: `${sub}/x.${acc.name}.${gw}` },
    'unknown account': { domain: `${sub}.nobody-${sub.slice(1, 9)}.${gw}` },
    'UUID-like name too short (named → no anon)': { domain: `${sub.slice(0, 24)}.${acc.name}.${gw}` },
    'UUID-like name too long (named → no anon)': { domain: `${sub}x.${acc.name}.${gw}` },
    'named subdomain, anonymous': { domain: `named.${acc.name}.${gw}` },
    'auth is a string': { domain: good, auth: 'rootacc', nonObjectAuth: true },
    'auth is an array': { domain: good, auth: ['user', 'key'], nonObjectAuth: true },
    'auth with non-string user/key': { domain: good, auth: { user: 42, key: { k: 1 } } },
    'two domains, comma-joined': { query: { '@id': id, '@domain': `${good},x.${acc.name}.evil.org` } },
    'huge @domain': { domain: `${'a'.repeat(5000)}.${acc.name}.${gw}` }
  };
  const failures = [];
  for (const [what, opts] of Object.entries(bad)) {
    const r = await ctx.socket({ within: 6000, ...opts });
    // A CONNECT packet whose auth is not an object is invalid Socket.io; the
    // reference (Node) socket.io server drops the transport instead of
    // answering connect_error. Either way it is refused promptly.
    if (r.outcome === 'disconnect' && opts.nonObjectAuth)
      ctx.log(`${what} → transport closed (${r.reason}, ${r.ms} ms)`);
    else if (r.outcome !== 'connect_error')
      failures.push(`${what} ${JSON.stringify(opts).slice(0, 160)}: ${ctx.verdict(r)}`);
    else
      ctx.log(`${what} → ${r.error.message} (${r.ms} ms)`);
  }
  assert.deepEqual(failures, [], `handshakes not refused with connect_error:\n${failures.join('\n')}`);

  // Still alive and well
  ctx.expect(await ctx.http('GET', '/healthz'), 200);
  const a = await ctx.clone(config, { auth: null, genesis: true });
  const b = await ctx.clone(config, { auth: null, genesis: false });
  await a.write({ '@id': 'survivor', ok: true });
  await ctx.untilSubject(b, 'survivor');
}
