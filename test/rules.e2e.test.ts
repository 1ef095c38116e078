/**
 * The rules in a real Prometheus: an hour of primary and shadow traffic shaped like real HTTP load
 * (NASA trace, 12.5 % mirrored, 1 % errors, a latency histogram) backfilled, the project's generic
 * mapping, Kubernetes inputs, KPIs and alerts loaded, and the KPIs and an alert read back through the
 * Prometheus HTTP API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadFixture, NASA_TWO_WEEKS } from './harness/fixtures.ts';
import type { HistorySeries } from '../platform/runtime/openmetrics.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';

const RULES = join(import.meta.dirname, '..', 'recording-rules');
const SCRAPE = 15;
const MIRROR = 0.125;

/** Counters as an instrumented app would expose them, scraped every 15 s for the last hour. */
function traffic(endSeconds: number): { series: HistorySeries[]; lastFiveMinutesRps: number } {
  const trace = loadFixture(NASA_TWO_WEEKS);
  // The busiest hour of the first day (around 15:00), requests per minute.
  const perMinute = trace.values.slice(15 * 60, 16 * 60);
  const steps = perMinute.length * (60 / SCRAPE);
  const timestamps = Array.from({ length: steps + 1 }, (_, i) => endSeconds - (steps - i) * SCRAPE);
  // As a scrape through the PodMonitor's relabelling labels them: by namespace and Deployment.
  const labels = (role: string, extra: Record<string, string> = {}) => ({ namespace: 'web', deployment: role === 'primary' ? 'nasa' : 'nasa-shadow', ...extra });
  const series: HistorySeries[] = [];
  for (const [role, share] of [['primary', 1], ['shadow', MIRROR]] as const) {
    const ok: number[] = [0];
    const errors: number[] = [0];
    const buckets: Record<string, number[]> = { '0.1': [0], '0.25': [0], '0.5': [0], '+Inf': [0] };
    for (let i = 1; i <= steps; i++) {
      const requests = (perMinute[Math.floor((i - 1) / 4)] / 4) * share;
      ok.push(ok[i - 1] + requests * 0.99);
      errors.push(errors[i - 1] + requests * 0.01);
      // Half the requests under 100 ms, 90 % under 250 ms, all under 500 ms, for both roles.
      buckets['0.1'].push(buckets['0.1'][i - 1] + requests * 0.5);
      buckets['0.25'].push(buckets['0.25'][i - 1] + requests * 0.9);
      buckets['0.5'].push(buckets['0.5'][i - 1] + requests);
      buckets['+Inf'].push(buckets['+Inf'][i - 1] + requests);
    }
    series.push({ name: 'http_requests', type: 'counter', labels: labels(role, { code: '200' }), timestamps, values: ok });
    series.push({ name: 'http_requests', type: 'counter', labels: labels(role, { code: '500' }), timestamps, values: errors });
    for (const [le, values] of Object.entries(buckets)) {
      series.push({ name: 'http_request_duration_seconds_bucket', labels: labels(role, { le }), timestamps, values });
    }
  }
  series.push({ name: 'kube_deployment_status_replicas_ready', labels: { namespace: 'web', deployment: 'nasa' }, timestamps, values: timestamps.map(() => 6) });
  series.push({ name: 'kube_deployment_status_replicas_ready', labels: { namespace: 'web', deployment: 'nasa-shadow' }, timestamps, values: timestamps.map(() => 1) });
  series.push({ name: 'shadowscale_shadow_mirror_percent', labels: { namespace: 'web', workload: 'nasa' }, timestamps, values: timestamps.map(() => MIRROR * 100) });
  // The adapter's bounds (the rules take no default for them) and its configured names, which decide
  // the roles (no receiver runs here).
  for (const [bound, v] of Object.entries({ latency_p99_seconds: 0.5, error_ratio: 0.01, min_request_rate: 1, shadow_latency_ratio_max: 1.5, shadow_error_ratio_diff_max: 0.01, mirror_coverage_tolerance: 0.5 })) {
    series.push({ name: 'shadowscale_workload_bound', labels: { namespace: 'web', workload: 'nasa', bound }, timestamps, values: timestamps.map(() => v) });
  }
  for (const [deployment, role] of [['nasa', 'primary'], ['nasa-shadow', 'shadow']]) {
    series.push({ name: 'shadowscale_workload_deployment_info', labels: { namespace: 'web', workload: 'nasa', deployment, configured_role: role }, timestamps, values: timestamps.map(() => 1) });
  }
  const lastFiveMinutesRps = perMinute.slice(-5).reduce((a, b) => a + b, 0) / 300;
  return { series, lastFiveMinutesRps };
}

async function instant(url: string, query: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query })}`);
  const body = (await response.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`${query}: ${body.error}`);
  return body.data.result;
}

describe('recording and alerting rules in a real Prometheus', () => {
  let prometheus: PrometheusServer;
  let expectedRps: number;

  beforeAll(async () => {
    const { series, lastFiveMinutesRps } = traffic(Math.floor(Date.now() / 1000) - 1);
    expectedRps = lastFiveMinutesRps;
    prometheus = await startPrometheus({
      history: series,
      ruleFiles: ['inputs/generic.rules.yml', 'inputs/kubernetes.rules.yml', 'kpis.rules.yml', 'forecast.rules.yml', 'alerts.rules.yml'].map((f) => join(RULES, f)),
      evaluationInterval: '1s',
    });
  });

  afterAll(async () => prometheus?.stop());

  async function eventually<T>(query: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await query();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  const one = async (query: string) => {
    const result = await instant(prometheus.url, query);
    return result.length === 1 ? Number(result[0].value[1]) : undefined;
  };

  it('records the traffic KPIs per role', async () => {
    const primary = await eventually(() => one('shadowscale:requests:rate5m{workload="nasa",role="primary"}'));
    // rate() extrapolates at the window's edges: within a few percent of the trace's own mean.
    expect(primary).toBeGreaterThan(expectedRps * 0.95);
    expect(primary).toBeLessThan(expectedRps * 1.05);
    expect(await eventually(() => one('shadowscale:request_errors:ratio_rate5m{workload="nasa",role="primary"}'))).toBeCloseTo(0.01, 9);
    expect(await eventually(() => one('shadowscale:request_latency_seconds:p50_rate5m{workload="nasa",role="primary"}'))).toBeCloseTo(0.1, 9);
    expect(await eventually(() => one('shadowscale:request_latency_seconds:p99_rate5m{workload="nasa",role="shadow"}'))).toBeCloseTo(0.475, 9);
    expect(await eventually(() => one('shadowscale:ready_replicas:count{workload="nasa",role="primary"}'))).toBe(6);
    const perReplica = await eventually(() => one('shadowscale:requests_per_ready_replica:rate1m{workload="nasa",role="primary"}'));
    expect(perReplica).toBeGreaterThan(0);
  });

  it('records the mirroring KPIs: coverage at the configured 12.5 %, a healthy and then ready shadow', async () => {
    expect(await eventually(() => one('shadowscale:mirror_coverage:ratio_rate5m{workload="nasa"}'))).toBeCloseTo(MIRROR, 9);
    expect(await eventually(() => one('shadowscale:mirror_coverage_configured:ratio{workload="nasa"}'))).toBe(MIRROR);
    expect(await eventually(() => one('shadowscale:shadow_latency_p99:ratio_rate5m{workload="nasa"}'))).toBeCloseTo(1, 9);
    expect(await eventually(() => one('shadowscale:shadow_healthy:bool{workload="nasa"}'))).toBe(1);
    const ready = await eventually(async () => ((await one('shadowscale:shadow_ready:bool{workload="nasa"}')) === 1 ? 1 : undefined));
    expect(ready).toBe(1);
  });

  it('fires ShadowscaleShadowReady, visible through /api/v1/alerts with the labels the receiver routes on', async () => {
    const alert = await eventually(async () => {
      const response = await fetch(`${prometheus.url}/api/v1/alerts`);
      const body = (await response.json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string; annotations: Record<string, string> }> } };
      return body.data.alerts.find((a) => a.labels.alertname === 'ShadowscaleShadowReady' && a.state === 'firing');
    });
    expect(alert.labels).toEqual({ alertname: 'ShadowscaleShadowReady', namespace: 'web', workload: 'nasa', severity: 'info', shadowscale_action: 'none' });
    expect(alert.annotations.summary).toBe('web/nasa: shadow ready for promotion');
  });
});
