// Operations endpoints: /healthz and /readyz answer; /metrics is refused
// without the root key, parses as the Prometheus text format with it, and
// its relay, HTTP and authentication counters move with traffic.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { freePort } from '../lib/gateway.mjs';

export const name = 'ops-metrics';
export const timeoutMs = 60000;

export default async function (ctx) {
  const { assert } = ctx;
  ctx.expect(await ctx.http('GET', '/healthz'), 200);
  ctx.expect(await ctx.http('GET', '/readyz'), 200);
  ctx.expect(await ctx.http('GET', '/metrics'), 401);
  if (ctx.gateway) {
    // The health subcommand (Docker's HEALTHCHECK) probes /healthz
    const run = port => promisify(execFile)(ctx.gateway.bin, ['health', '--port', String(port)]);
    assert.match((await run(ctx.gateway.port)).stdout, /^ok/);
    await assert.rejects(run(await freePort()), 'health fails where no gateway listens');
  }
  const acc = await ctx.createAccount('metrics');
  ctx.expect(await ctx.http('GET', '/metrics', { auth: acc.auth }), 403);

  const scrape = async () => {
    const r = ctx.expect(await ctx.http('GET', '/metrics', { auth: ctx.root }), 200);
    assert.match(r.contentType, /^text\/plain/);
    const families = parsePrometheusTextFormat(r.text);
    const value = (name, labels = {}) => {
      const f = families.find(f => f.name === name);
      assert.ok(f, `metric ${name} in ${r.text.slice(0, 2000)}`);
      return f.metrics.filter(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
        .reduce((sum, m) => sum + Number(m.value), 0);
    };
    return { value, families };
  };
  const before = await scrape();
  assert.ok(before.families.every(f => f.type === 'COUNTER' || f.type === 'GAUGE'), 'typed families');

  // Traffic: a refused key, some Admin API calls and relayed operations
  ctx.expect(await ctx.http('PUT', ctx.subdomainPath(acc, 'm'), { auth: { user: acc.name, key: acc.key + 'x' } }), 401);
  const uuidAcc = await ctx.uuidAccount('metricsu', 'anon');
  const config = await ctx.newUuidDomain(uuidAcc);
  const a = await ctx.clone(config, { genesis: true, auth: null });
  const b = await ctx.clone(config, { genesis: false, auth: null });
  await a.write({ '@id': 'm1', n: 1 });
  await ctx.untilSubject(b, 'm1');
  // A named subdomain: its backup clone applies what a clone writes
  const lagName = ctx.freshName('lag');
  const c = await ctx.clone(await ctx.putSubdomain(acc, lagName), { auth: acc.auth });
  await c.write({ '@id': 'lag1', n: 1 });
  const state = `${ctx.subdomainPath(acc, lagName)}/state?q=${encodeURIComponent('{"@describe":"lag1"}')}`;
  for (let tries = 0; !(await ctx.http('GET', state, { auth: acc.auth })).text.includes('lag1'); tries++) {
    assert.ok(tries < 200, 'the backup clone applied the write');
    await new Promise(resolve => setTimeout(resolve, 50));
  }

  const after = await scrape();
  const moved = (name, labels) => after.value(name, labels) - before.value(name, labels);
  assert.ok(moved('meld_gateway_auth_failures_total') >= 1, 'authentication failures counted');
  assert.ok(moved('meld_gateway_relay_operations_received_total') >= 1, 'operations counted');
  assert.ok(moved('meld_gateway_backup_operations_applied_total') >= 1, 'backup applies counted');
  assert.ok(moved('meld_gateway_backup_apply_lag_microseconds_total') > 0, 'apply lag summed');
  assert.ok(after.value('meld_gateway_backup_apply_lag_max_microseconds') > 0, 'apply lag maximum');
  assert.ok(moved('meld_gateway_relay_payload_bytes_received_total') > 0, 'relayed bytes counted');
  assert.ok(moved('meld_gateway_relay_events_delivered_total') >= 1, 'deliveries counted');
  assert.ok(after.value('meld_gateway_relay_sockets_open') >= 2, 'open sockets gauge');
  assert.ok(moved('meld_gateway_http_requests_total',
    { route: '/api/v1/domain/{account}/{name}', method: 'PUT', status: '401' }) >= 1, 'HTTP requests by route and status');
  assert.ok(moved('meld_gateway_http_requests_total', { route: '/api/v1/domain/{account}', method: 'POST', status: '200' }) >= 1);
}
