/**
 * The dashboards: the committed JSON is what the code builds; every panel says what it shows, in which
 * unit, with thresholds; and every PromQL expression of every panel, annotation and variable parses
 * and returns data in a real Prometheus running the project's recording and alerting rules over
 * series shaped like the workloads' traffic and the adapter's and receiver's own metrics.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withFor } from '../demo/rules.ts';

import type { HistorySeries } from '../platform/runtime/openmetrics.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';
import { dashboardJson, dashboards, expressions, JSON_DIR } from './index.ts';

const RULES = join(import.meta.dirname, '..', 'recording-rules');
const STEP = 15;
const NS = 'shop';
const WL = 'checkout';

describe('the committed dashboards', () => {
  it('are what the code builds (run npm run dashboards:generate after a change)', () => {
    for (const [file, d] of Object.entries(dashboards())) {
      expect(readFileSync(join(JSON_DIR, file), 'utf8'), `dashboards/json/${file} is stale`).toBe(dashboardJson(d));
    }
  });

  it('give every panel a description, a unit, thresholds and the datasource variable', () => {
    for (const [file, d] of Object.entries(dashboards())) {
      const panels = (d.panels as any[]).filter((p) => p.type !== 'row');
      expect(panels.length).toBeGreaterThan(5);
      for (const p of panels) {
        const where = `${file}: panel "${p.title}"`;
        expect(p.description?.length ?? 0, where).toBeGreaterThan(40);
        expect(p.fieldConfig?.defaults?.unit, where).toBeTruthy();
        expect(p.fieldConfig?.defaults?.thresholds?.steps?.length ?? 0, where).toBeGreaterThan(0);
        expect(p.datasource, where).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(p.targets.length, where).toBeGreaterThan(0);
      }
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    }
  });
});

/** Counters and gauges as the apps, kube-state-metrics, cAdvisor, the adapter and the receiver expose them. */
function history(end: number): HistorySeries[] {
  const n = 160; // 40 minutes at 15 s
  const ts = Array.from({ length: n }, (_, i) => end - (n - 1 - i) * STEP);
  const series: HistorySeries[] = [];
  const gauge = (name: string, labels: Record<string, string>, value: (i: number) => number) => series.push({ name, labels, timestamps: ts, values: ts.map((_, i) => value(i)) });
  /** A counter family `name` (samples `name_total`) growing by `perSecond(i)`. */
  const counter = (name: string, labels: Record<string, string>, perSecond: (i: number) => number) => {
    let total = 0;
    series.push({ name, type: 'counter', labels, timestamps: ts, values: ts.map((_, i) => (total += perSecond(i) * STEP)) });
  };
  /** Histogram buckets (cumulative counts) for observations spread over the given upper bounds. */
  const histogram = (name: string, labels: Record<string, string>, perSecond: number, shares: Record<string, number>) => {
    for (const [le, share] of Object.entries(shares)) {
      let total = 0;
      series.push({ name: `${name}_bucket`, labels: { ...labels, le }, timestamps: ts, values: ts.map(() => (total += perSecond * share * STEP)) });
    }
  };
  const w = { namespace: NS, workload: WL };
  // A surge in the last 10 minutes: 100 → 400 requests per second.
  const load = (i: number) => (i > n - 40 ? 400 : 100);
  // The app's traffic, labelled as a scrape through the example PodMonitor labels it (by Deployment).
  for (const [deployment, share] of [[WL, 1], [`${WL}-shadow`, 0.1]] as const) {
    counter('http_requests', { namespace: NS, deployment, code: '200' }, (i) => load(i) * share * 0.99);
    counter('http_requests', { namespace: NS, deployment, code: '500' }, (i) => load(i) * share * 0.01);
    histogram('http_request_duration_seconds', { namespace: NS, deployment }, 100 * share, { '0.1': 0.5, '0.25': 0.9, '0.5': 1, '+Inf': 1 });
  }
  gauge('kube_deployment_status_replicas_ready', { namespace: NS, deployment: WL }, () => 4);
  gauge('kube_deployment_status_replicas_ready', { namespace: NS, deployment: `${WL}-shadow` }, () => 1);
  for (const pod of [`${WL}-7d9f8b6c5d-abcde`, `${WL}-shadow-6b5f7c8d9e-fghij`]) {
    counter('container_cpu_usage_seconds', { namespace: NS, pod, container: 'app' }, () => 0.4);
    gauge('container_memory_working_set_bytes', { namespace: NS, pod, container: 'app' }, () => 300e6);
  }
  // The adapter (one replica).
  gauge('shadowscale_observed_load', w, load);
  for (const [q, f] of [['0.5', 1], ['0.1', 0.8], ['0.9', 1.2], ['0.025', 0.7], ['0.975', 1.3]] as const) {
    gauge('shadowscale_forecast_lagged_load', { ...w, quantile: q }, () => 100 * f);
    gauge('shadowscale_forecast_load', { ...w, quantile: q }, (i) => load(i) * f);
  }
  gauge('shadowscale_predicted_load', w, (i) => load(i) * 1.3);
  gauge('shadowscale_capacity_per_replica', w, () => 50);
  gauge('shadowscale_desired_replicas', w, (i) => Math.ceil((load(i) * 1.3) / 50));
  gauge('shadowscale_forecast_desired_replicas', w, (i) => Math.ceil((load(i) * 1.3) / 50));
  gauge('shadowscale_shadow_pool_size', w, () => 2);
  gauge('shadowscale_shadow_mirror_percent', w, () => 10);
  // The dry-run counterfactual.
  for (const [side, ratio, cost] of [['hpa', 0.012, 4e5], ['shadowscale', 0.002, 4.6e5]] as const) {
    gauge('shadowscale_whatif_unserved_ratio', { ...w, side }, () => ratio);
    gauge('shadowscale_whatif_replica_seconds', { ...w, side }, () => cost);
  }
  gauge('shadowscale_whatif_window_seconds', w, () => 86_400);
  gauge('shadowscale_forecast_age_seconds', w, () => 20);
  gauge('shadowscale_last_refresh_success', w, () => 1);
  for (const rung of ['fresh', 'stale', 'reactive', 'minimum']) gauge('shadowscale_serving_rung', { ...w, rung }, () => (rung === 'fresh' ? 1 : 0));
  gauge('shadowscale_forecast_model', { ...w, model: 'mstl', rung: '1' }, () => 1);
  for (const [metric, v] of [['relative_mae', 0.85], ['mae', 12], ['coverage80', 0.81], ['coverage95', 0.95]] as const) gauge('shadowscale_backtest_error', { ...w, metric }, () => v);
  const bounds: Record<string, number> = {
    latency_p99_seconds: 0.5,
    error_ratio: 0.01,
    min_request_rate: 1,
    anomaly_zscore: 3,
    forecast_ttl_seconds: 600,
    forecast_relative_error_max: 0.5,
    forecast_coverage95_min: 0.8,
    shadow_latency_ratio_max: 1.5,
    shadow_error_ratio_diff_max: 0.01,
    mirror_coverage_tolerance: 0.5,
  };
  for (const [bound, v] of Object.entries(bounds)) gauge('shadowscale_workload_bound', { ...w, bound }, () => v);
  gauge('shadowscale_workload_deployment_info', { ...w, deployment: WL, configured_role: 'primary' }, () => 1);
  gauge('shadowscale_workload_deployment_info', { ...w, deployment: `${WL}-shadow`, configured_role: 'shadow' }, () => 1);
  histogram('shadowscale_fit_duration_seconds', { model: 'mstl', result: 'ok' }, 0.02, { '0.1': 0.2, '0.5': 0.9, '1': 1, '+Inf': 1 });
  counter('shadowscale_fit_errors', w, () => 0.001);
  histogram('shadowscale_prometheus_query_duration_seconds', { result: 'ok' }, 0.05, { '0.05': 0.8, '0.25': 1, '+Inf': 1 });
  counter('shadowscale_prometheus_query_errors', { ...w, error_type: 'timeout' }, () => 0.001);
  histogram('shadowscale_adapter_request_duration_seconds', { api: 'external_metrics', metric: 'shadowscale_predicted_load', code: '200' }, 0.2, { '0.005': 0.9, '0.05': 1, '+Inf': 1 });
  // The receiver: a promotion one minute ago.
  for (const outcome of ['accepted', 'duplicate', 'invalid']) counter('shadowscale_receiver_webhooks', { outcome }, () => 0.01);
  counter('shadowscale_receiver_actions', { ...w, kind: 'scale', result: 'success' }, (i) => (i > n - 8 ? 0.05 : 0));
  histogram('shadowscale_receiver_receipt_to_api_call_seconds', {}, 0.01, { '0.01': 0.5, '0.05': 1, '+Inf': 1 });
  counter('shadowscale_receiver_reconcile_errors', w, () => 0.0005);
  gauge('shadowscale_receiver_leader', {}, () => 1);
  gauge('shadowscale_receiver_dry_run', {}, () => 0);
  gauge('shadowscale_receiver_promoted', w, (i) => (i > n - 5 ? 1 : 0));
  // Which Deployment serves, as the receiver remembers it: the configured primary. (Roles that changed
  // within 5 minutes leave the mirroring panels empty on purpose; the rules' tests cover swaps.)
  gauge('shadowscale_workload_serving_share', { ...w, deployment: WL }, () => 1);
  gauge('shadowscale_workload_serving_share', { ...w, deployment: `${WL}-shadow` }, () => 0);
  gauge('shadowscale_shadow_replicas', w, () => 2);
  counter('shadowscale_shadow_cost_replica_seconds', w, () => 1);
  counter('shadowscale_warmup_requests', { ...w, outcome: 'ok' }, () => 2);
  gauge('shadowscale_warmup_target_rps', w, () => 2);
  // The recorded load of the previous 8 days (what the live rule recorded then), for the anomaly baseline.
  const days = Array.from({ length: 8 * 1440 }, (_, i) => end - 600 - (8 * 1440 - 1 - i) * 60);
  series.push({ name: 'shadowscale:load:rate5m', labels: w, timestamps: days, values: days.map((_, i) => 100 + 10 * Math.sin(i / 7)) });
  return series;
}

/** The alert rules with every `for:` cut to 0 s, so alerts fire within seconds (only that changes). */
function fastAlerts(dir: string): string {
  const out = join(dir, 'alerts.rules.yml');
  writeFileSync(out, withFor(readFileSync(join(RULES, 'alerts.rules.yml'), 'utf8'), '0s'));
  return out;
}

/** Grafana's variables and macros, as Grafana would substitute them for one workload. */
function substitute(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$namespace', NS)
    .replaceAll('$workload', WL);
}

/** `label_values(metric, label)` as PromQL: the values Grafana would list. */
function variableQuery(expr: string): string {
  const m = /^label_values\((.+),\s*([a-zA-Z_]+)\)$/.exec(expr);
  if (!m) throw new Error(`unexpected variable query ${expr}`);
  return `group by (${m[2]}) (${m[1]})`;
}

describe('every dashboard query against a real Prometheus with the project rules', () => {
  let prometheus: PrometheusServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shadowscale-dashboards-'));
    const end = Math.floor(Date.now() / 1000 / STEP) * STEP - STEP;
    prometheus = await startPrometheus({
      history: history(end),
      ruleFiles: [
        join(RULES, 'inputs/generic.rules.yml'),
        join(RULES, 'inputs/kubernetes.rules.yml'),
        join(RULES, 'kpis.rules.yml'),
        join(RULES, 'forecast.rules.yml'),
        fastAlerts(dir),
      ],
      evaluationInterval: '1s',
    });
  }, 120_000);
  afterAll(async () => {
    await prometheus?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function run(expr: string, instant: boolean): Promise<number> {
    const now = Date.now() / 1000;
    const params = instant ? new URLSearchParams({ query: expr, time: String(now) }) : new URLSearchParams({ query: expr, start: String(now - 300), end: String(now), step: '15' });
    const res = await fetch(`${prometheus.url}/api/v1/${instant ? 'query' : 'query_range'}?${params}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    if (body.status !== 'success') throw new Error(body.error);
    return body.data!.result.length;
  }

  it('parses and returns data for every panel, annotation and variable expression', async () => {
    const all = Object.entries(dashboards()).flatMap(([file, d]) =>
      expressions(d).map((e) => {
        const panel = e.kind === 'panel' ? findTarget(d, e.where) : undefined;
        return { ...e, file, instant: e.kind === 'variable' || panel?.instant === true, expr: e.kind === 'variable' ? variableQuery(substitute(e.expr)) : substitute(e.expr) };
      }),
    );
    expect(all.length).toBeGreaterThan(60);
    // Recording rules and alerts need a few evaluations; ask until all answer or a minute passed.
    const deadline = Date.now() + 60_000;
    let failing: string[] = [];
    for (;;) {
      failing = [];
      for (const e of all) {
        try {
          if ((await run(e.expr, e.instant)) === 0) failing.push(`${e.file} ${e.where}: no data for ${e.expr}`);
        } catch (error) {
          failing.push(`${e.file} ${e.where}: ${(error as Error).message} in ${e.expr}`);
        }
      }
      if (failing.length === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(failing).toEqual([]);
  }, 120_000);

  it('rejects a broken expression (the check above can fail)', async () => {
    await expect(run('sum by (namespace (shadowscale_observed_load)', true)).rejects.toThrow(/parse error/);
    expect(await run('shadowscale_observed_load{workload="no-such-workload"}', true)).toBe(0);
  });
});

function findTarget(d: any, where: string): any {
  const m = /^panel "(.+)" ([A-Z])$/.exec(where)!;
  const panels: any[] = [...(d.panels ?? []), ...(d.panels ?? []).flatMap((p: any) => p.panels ?? [])];
  return panels.find((p) => p.title === m[1])?.targets.find((t: any) => t.refId === m[2]);
}
