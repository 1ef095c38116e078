/**
 * `shadowscale check` against a real Prometheus running the project's rules, on traffic labelled as
 * the example PodMonitor labels it: a workload with everything, one whose app is scraped without the
 * `deployment` label, one whose Deployments send no traffic; and the configuration errors it reports
 * before asking Prometheus anything.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { HistorySeries } from '../platform/runtime/openmetrics.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';
import { until } from '../test/harness/wait.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'shadowscale.mjs');
const dir = mkdtempSync(join(tmpdir(), 'shadowscale-check-'));

function shadowscale(...args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function configFile(name: string, prometheusUrl: string, workloads: string): string {
  const file = join(dir, name);
  writeFileSync(file, `prometheus: { url: ${prometheusUrl}, timeout: 5s }\nworkloads:\n${workloads}`);
  return file;
}

const SHOP = `
  - name: checkout
    namespace: shop
    capacityPerReplica: 50
    primary: { name: checkout, maxReplicas: 10 }
    shadow: { name: checkout-shadow, maxReplicas: 4, mirrorPercent: 10 }
`;

/** Ten minutes of counters, scraped every 15 s, ending now. */
function history(): HistorySeries[] {
  const end = Math.floor(Date.now() / 1000) - 1;
  const timestamps = Array.from({ length: 41 }, (_, i) => end - (40 - i) * 15);
  const counter = (labels: Record<string, string>, perSecond: number): HistorySeries => ({ name: 'http_requests', type: 'counter', labels, timestamps, values: timestamps.map((_, i) => i * 15 * perSecond) });
  const info = (workload: string, deployment: string, role: string): HistorySeries => ({ name: 'shadowscale_workload_deployment_info', labels: { namespace: 'shop', workload, deployment, configured_role: role }, timestamps, values: timestamps.map(() => 1) });
  return [
    // shop/checkout: as the PodMonitor labels it.
    counter({ namespace: 'shop', deployment: 'checkout', pod: 'checkout-7d4b9c8f6d-abcde', code: '200' }, 40),
    counter({ namespace: 'shop', deployment: 'checkout-shadow', pod: 'checkout-shadow-5f6d7c8b9-klmno', code: '200' }, 4),
    info('checkout', 'checkout', 'primary'),
    info('checkout', 'checkout-shadow', 'shadow'),
    // Its latency histogram, in seconds: the default 0.5 s SLO is an edge.
    ...['0.1', '0.25', '0.5', '1', '+Inf'].map((le, i): HistorySeries => ({
      name: 'http_request_duration_seconds_bucket',
      labels: { namespace: 'shop', deployment: 'checkout', pod: 'checkout-7d4b9c8f6d-abcde', le },
      timestamps,
      values: timestamps.map((_, j) => j * 15 * [10, 30, 38, 39.6, 40][i]),
    })),
    // bare/api: scraped without the relabelling, so no deployment label.
    counter({ namespace: 'bare', pod: 'api-6c9f7d8b5-pqrst', code: '200' }, 10),
    { name: 'shadowscale_workload_deployment_info', labels: { namespace: 'bare', workload: 'api', deployment: 'api', configured_role: 'primary' }, timestamps, values: timestamps.map(() => 1) },
  ];
}

describe('shadowscale check', () => {
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    prometheus = await startPrometheus({
      history: history(),
      ruleFiles: ['inputs/generic.rules.yml', 'kpis.rules.yml'].map((f) => join(ROOT, 'recording-rules', f)),
    });
    // The rules evaluate every second on the backfilled history; wait for the served load.
    await until('recorded load', async () => (await fetch(`${prometheus.url}/api/v1/query?query=shadowscale:load:rate1m`).then((r) => r.json())).data.result.length > 0, 30_000);
  }, 60_000);
  afterAll(async () => prometheus?.stop());

  it('exits 0 on a workload that has everything, and says what it found', () => {
    const run = shadowscale('check', '--config', configFile('good.yaml', prometheus.url, SHOP));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/good\.yaml: valid \(1 workload, every PromQL expression parses\)/);
    // (The backfilled traffic ends when the test starts, so the rate drifts a little: not asserted to the digit.)
    expect(run.stdout).toMatch(/^shop\/checkout: ok \(load [0-9.]+ now, checkout serves, latency SLO at bucket le="0\.5"\)$/m);
  });

  it('names the position of a PromQL syntax error and asks Prometheus nothing', () => {
    const run = shadowscale('check', '--config', configFile('syntax.yaml', 'http://127.0.0.1:9', `${SHOP}    load: sum(rate(http_requests_total{namespace="shop"}[2m])\n`));
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe(`shadowscale check: ${join(dir, 'syntax.yaml')}: workloads[0].load: PromQL syntax error at 1:52: unexpected end of the expression`);
  });

  it('names a missing label and a missing series, one line each, and exits 1', () => {
    const workloads = `${SHOP}
  - name: api
    namespace: bare
    capacityPerReplica: 10
    primary: { name: api, maxReplicas: 5 }
  - name: ghost
    namespace: shop
    load: sum(http_requests_total{namespace="shop",deployment="ghost"})
    capacityPerReplica: 10
    primary: { name: ghost, maxReplicas: 5 }
  - name: wide
    namespace: shop
    load: sum(rate(http_requests_total{deployment="checkout"}[2m]))
    capacityPerReplica: 10
    primary: { name: wide, maxReplicas: 5 }
  - name: strict
    namespace: shop
    load: sum(shadowscale:load:rate1m{namespace="shop",workload="checkout"})
    capacityPerReplica: 50
    slo: { latencyP99: 300ms }
    primary: { name: checkout, maxReplicas: 10 }
`;
    const run = shadowscale('check', '--config', configFile('problems.yaml', prometheus.url, workloads));
    expect(run.status).toBe(1);
    const lines = run.stdout.trim().split('\n');
    expect(lines.filter((l) => /^shop\/checkout: ok \(load [0-9.]+ now, checkout serves, latency SLO at bucket le="0\.5"\)$/.test(l))).toHaveLength(1);
    expect(lines).toContain('bare/api: load: sum(shadowscale:load:rate1m{namespace="bare",workload="api"}) returns no series (the recorded served load: see the traffic and role lines)');
    expect(lines).toContain('bare/api: traffic: no shadowscale:deployment_requests:rate5m for Deployment bare/api; http_requests_total in namespace bare has no deployment label: scrape the pods as deploy/examples/monitoring/podmonitor.yaml does');
    expect(lines).toContain('shop/ghost: load: http_requests_total is a counter read without rate(); the load must be a rate, e.g. sum(rate(http_requests_total[2m]))');
    expect(lines).toContain('shop/wide: load: http_requests_total{deployment="checkout"} has no namespace matcher, so pods of any namespace that expose it count toward this workload; add namespace="shop"');
    expect(lines).toContain('shop/ghost: load: sum(http_requests_total{namespace="shop",deployment="ghost"}) returns no series');
    expect(lines).toContain('shop/ghost: roles: no shadowscale:deployment_role:info; load recording-rules/kpis.rules.yml and let Prometheus scrape the adapter (shadowscale_workload_deployment_info) or the receiver (shadowscale_workload_serving_share)');
    expect(lines).toContain('shop/ghost: traffic: no shadowscale:deployment_requests:rate5m for Deployment shop/ghost; http_requests_total has no series with deployment="ghost" (is it running, and are its pods labelled for the PodMonitor?)');
    expect(lines).toContain('shop/strict: latency: slo.latencyP99 0.3s is not an edge of the latency histogram (le: 0.1, 0.25, 0.5, 1 (seconds)); the latency alerts fall back to the p99, which can promote on a few slow requests: set the SLO to an edge or add one');
    // (No adapter exports strict's names, so its roles are missing too.)
    expect(lines).toContain('shop/strict: roles: no shadowscale:deployment_role:info; load recording-rules/kpis.rules.yml and let Prometheus scrape the adapter (shadowscale_workload_deployment_info) or the receiver (shadowscale_workload_serving_share)');
    expect(run.stderr.trim()).toBe('shadowscale check: 11 problems found');
  });

  it('says in one line that Prometheus cannot be reached, and exits 1', () => {
    const run = shadowscale('check', '--config', configFile('down.yaml', 'http://127.0.0.1:9', SHOP));
    expect(run.status).toBe(1);
    const err = run.stderr.trim().split('\n');
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^shadowscale check: Prometheus at http:\/\/127\.0\.0\.1:9 cannot be asked: .*ECONNREFUSED/);
  });
});
