/**
 * The simulator's alert path against the real thing: its latencies read from the shipped rules and
 * Alertmanager route, and, on a replayed real trace, its prescale alerts compared evaluation by
 * evaluation with what promtool (Prometheus's rule engine) makes of the same series under the shipped
 * rules.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

import { parseSeriesCsv } from '../core/series/csv.ts';
import type { PrescaleAlert, RuleInputs } from '../core/simulator/alert-path.ts';
import { defaultSpec, POLICIES, simulate } from '../core/simulator/simulate.ts';
import { autoCapacity, traceFromSeries } from '../core/simulator/trace.ts';
import { alertPathFromFiles, SHIPPED_ALERTMANAGER, SHIPPED_RULES } from './alert-path.ts';
import { shippedPrescale } from './run.ts';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const TRACE = join(ROOT, 'test', 'fixtures', 'nasa_http_1995-07-01_to_07-14_per_minute.csv');
const dir = mkdtempSync(join(tmpdir(), 'shadowscale-alert-path-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of a shipped YAML file, changed by `edit`. */
function edited(file: string, name: string, edit: (doc: any) => void): string {
  const doc = parse(readFileSync(file, 'utf8'));
  edit(doc);
  const out = join(dir, name);
  writeFileSync(out, stringify(doc));
  return out;
}

const prescaleRule = (doc: any, alert: string) => doc.groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === alert && r.labels?.shadowscale_action === 'prescale');

describe('the alert path read from the shipped files', () => {
  it("is the rules' for: at the evaluation interval, and the receiver route's group_wait and group_interval", () => {
    expect(alertPathFromFiles()).toEqual({
      evaluationIntervalSeconds: 30,
      forSeconds: { ShadowscalePredictedOverload: 60, 'ShadowscaleLoadAnomaly/above_forecast_band': 120 },
      groupWaitSeconds: 0,
      groupIntervalSeconds: 30,
    });
  });

  it('follows the files: a longer for:, a group interval, a route that inherits its timings', () => {
    const rules = edited(SHIPPED_RULES, 'slow.rules.yml', (doc) => {
      prescaleRule(doc, 'ShadowscalePredictedOverload').for = '5m';
      for (const g of doc.groups) g.interval = '1m';
    });
    const am = edited(SHIPPED_ALERTMANAGER, 'inherit.yml', (doc) => {
      doc.route.group_wait = '10s';
      doc.route.group_interval = '2m';
      delete doc.route.routes[0].group_wait;
      delete doc.route.routes[0].group_interval;
    });
    expect(alertPathFromFiles(rules, am)).toEqual({
      evaluationIntervalSeconds: 60,
      forSeconds: { ShadowscalePredictedOverload: 300, 'ShadowscaleLoadAnomaly/above_forecast_band': 120 },
      groupWaitSeconds: 10,
      groupIntervalSeconds: 120,
    });
  });

  it("takes its timings from the route Alertmanager sends the prescale alerts to (amtool's routing)", async () => {
    const routed = (config: string, alertname: string) =>
      exec('amtool', ['config', 'routes', 'test', `--config.file=${config}`, 'shadowscale_action=prescale', 'namespace=shop', 'workload=checkout', `alertname=${alertname}`]).then(
        (r) => r.stdout.trim(),
        (e) => `refused: ${String(e.stdout).trim()}`,
      );
    for (const alertname of ['ShadowscalePredictedOverload', 'ShadowscaleLoadAnomaly']) {
      expect(await routed(SHIPPED_ALERTMANAGER, alertname)).toBe('shadowscale');
    }
    // The check can fail: with the route gone, amtool sends them to the default receiver.
    const noRoute = edited(SHIPPED_ALERTMANAGER, 'routed-default.yml', (doc) => {
      doc.route.routes = [];
    });
    expect(await routed(noRoute, 'ShadowscalePredictedOverload')).toBe('default');
  });

  it('names the file and what is wrong in it', () => {
    const noOverload = edited(SHIPPED_RULES, 'no-overload.rules.yml', (doc) => {
      prescaleRule(doc, 'ShadowscalePredictedOverload').labels.shadowscale_action = 'none';
    });
    expect(() => alertPathFromFiles(noOverload)).toThrow(`${noOverload}: no prescale alert ShadowscalePredictedOverload`);
    const badFor = edited(SHIPPED_RULES, 'bad-for.rules.yml', (doc) => {
      prescaleRule(doc, 'ShadowscalePredictedOverload').for = 'soon';
    });
    expect(() => alertPathFromFiles(badFor)).toThrow(`${badFor}: the for: of ShadowscalePredictedOverload is "soon", not a duration`);
    const noRoute = edited(SHIPPED_ALERTMANAGER, 'no-route.yml', (doc) => {
      doc.route.routes = [];
    });
    expect(() => alertPathFromFiles(SHIPPED_RULES, noRoute)).toThrow(`${noRoute}: no route sends to the receiver "shadowscale"`);
  });
});

/** Go's %.1f: the nearest tenth, a tie to the even digit (JavaScript's toFixed takes the larger). */
function printf1(v: number): string {
  const tenths = v * 10;
  if (Math.abs(tenths - Math.trunc(tenths)) === 0.5) return ((2 * Math.round(tenths / 2)) / 10).toFixed(1);
  return v.toFixed(1);
}

describe('the prescale alerts, simulated and evaluated by Prometheus', () => {
  it('fire and resolve at the same evaluations in the simulator as promtool finds with the shipped rules, on a replayed real trace', async () => {
    // Six hours of NASA's July after five days of history, shadowscale with the shipped pre-scale.
    const full = traceFromSeries(parseSeriesCsv(readFileSync(TRACE, 'utf8'), TRACE));
    const n = Math.round((5 * 86_400 + 6 * 3600) / full.stepSeconds);
    const trace = { ...full, values: full.values.slice(0, n), sampled: full.sampled?.slice(0, n) };
    const evaluations: Array<{ t: number; inputs: RuleInputs; firing: PrescaleAlert[] }> = [];
    const capacity = autoCapacity(full);
    const spec = defaultSpec({
      capacityPerReplica: capacity,
      maxReplicas: 60,
      warmupSeconds: 5 * 86_400,
      prescale: { ...shippedPrescale(), onEvaluation: (t, inputs, firing) => evaluations.push({ t, inputs, firing }) },
    });
    const result = simulate(trace, POLICIES.shadowscale, spec, { timeline: false });
    const interval = spec.prescale!.alertPath.evaluationIntervalSeconds;
    expect(evaluations.length).toBeGreaterThan(700);
    evaluations.forEach((e, i) => expect(e.t).toBe(evaluations[0].t + i * interval));

    // What the adapter and kube-state-metrics export, one sample an evaluation: the values the
    // simulator's evaluation read (`stale` where the adapter exported nothing).
    const w = { namespace: 'shop', workload: 'checkout' };
    const labels = `namespace="${w.namespace}",workload="${w.workload}"`;
    const values = (f: (x: RuleInputs) => number | undefined) => evaluations.map((e) => f(e.inputs)).map((v) => (v === undefined ? 'stale' : String(v))).join(' ');
    const constant = (v: number) => `${v}x${evaluations.length - 1}`;
    const bounds = { latency_p99_seconds: 0.5, error_ratio: 0.01, min_request_rate: spec.prescale!.minRequestRate, shadow_latency_ratio_max: 1.5, shadow_error_ratio_diff_max: 0.01, mirror_coverage_tolerance: 0.5, anomaly_zscore: 3, forecast_ttl_seconds: 600, forecast_relative_error_max: 0.5, forecast_coverage95_min: 0.8 };
    const inputSeries = [
      ...Object.entries(bounds).map(([bound, v]) => ({ series: `shadowscale_workload_bound{${labels},bound="${bound}"}`, values: constant(v) })),
      { series: `shadowscale_workload_deployment_info{${labels},deployment="checkout",configured_role="primary"}`, values: constant(1) },
      { series: `shadowscale_workload_deployment_info{${labels},deployment="checkout-shadow",configured_role="shadow"}`, values: constant(1) },
      { series: `shadowscale_capacity_per_replica{${labels}}`, values: constant(capacity) },
      { series: `kube_deployment_status_replicas_ready{namespace="shop",deployment="checkout"}`, values: values((x) => Math.round(x.readyCapacity / capacity)) },
      { series: `kube_deployment_status_replicas_ready{namespace="shop",deployment="checkout-shadow"}`, values: constant(1) },
      { series: `shadowscale_observed_load{${labels}}`, values: values((x) => x.observed) },
      { series: `shadowscale_forecast_load{${labels},quantile="0.975"}`, values: values((x) => x.forecastUpper95) },
      { series: `shadowscale_forecast_lagged_load{${labels},quantile="0.975"}`, values: values((x) => x.laggedUpper95) },
    ];

    // Every evaluation, for both alerts: what the simulator had firing after it, with the labels and
    // annotations the shipped rules give it.
    const rules = parse(readFileSync(SHIPPED_RULES, 'utf8'));
    const rule = (alert: PrescaleAlert) => {
      const [name, reason] = alert.split('/');
      return rules.groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === name && r.labels?.shadowscale_action === 'prescale' && r.labels?.reason === reason);
    };
    const render = (text: string, value: number) =>
      text.replaceAll('{{ $labels.namespace }}', w.namespace).replaceAll('{{ $labels.workload }}', w.workload).replaceAll('{{ $value | printf "%.1f" }}', printf1(value));
    const valueOf = (alert: PrescaleAlert, x: RuleInputs) => (alert === 'ShadowscalePredictedOverload' ? x.forecastUpper95! : x.observed! - x.laggedUpper95!);
    const alertTests = evaluations.flatMap((e, i) =>
      (['ShadowscalePredictedOverload', 'ShadowscaleLoadAnomaly/above_forecast_band'] as const).map((alert) => {
        const r = rule(alert);
        return {
          eval_time: `${i * interval}s`,
          alertname: r.alert,
          exp_alerts: e.firing.includes(alert)
            ? [{
                exp_labels: { ...w, ...r.labels },
                exp_annotations: Object.fromEntries(Object.entries(r.annotations as Record<string, string>).map(([k, v]) => [k, render(v, valueOf(alert, e.inputs))])),
              }]
            : [],
        };
      }),
    );
    const file = join(dir, 'side-by-side.test.yml');
    writeFileSync(
      file,
      stringify({
        rule_files: [join(ROOT, 'recording-rules', 'inputs', 'kubernetes.rules.yml'), join(ROOT, 'recording-rules', 'kpis.rules.yml'), join(ROOT, 'recording-rules', 'forecast.rules.yml'), SHIPPED_RULES],
        evaluation_interval: `${interval}s`,
        group_eval_order: ['shadowscale-inputs-kubernetes', 'shadowscale-kpis', 'shadowscale-forecast', 'shadowscale-alerts'],
        tests: [{ interval: `${interval}s`, input_series: inputSeries, alert_rule_test: alertTests }],
      }),
    );
    const run = await exec('promtool', ['test', 'rules', file], { maxBuffer: 16 * 1024 * 1024 }).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (e) => ({ code: e.code as number, output: `${e.stdout}${e.stderr}` }),
    );
    expect(run.output.slice(0, 4000)).toContain('SUCCESS');
    expect(run.code).toBe(0);

    // The scenario holds something to compare: each alert pending, firing and resolved more than once,
    // and the receiver raised the HPA's floor for them.
    const firings = (alert: PrescaleAlert) => evaluations.filter((e, i) => e.firing.includes(alert) && !evaluations[i - 1]?.firing.includes(alert)).length;
    expect(firings('ShadowscalePredictedOverload')).toBeGreaterThanOrEqual(2);
    expect(firings('ShadowscaleLoadAnomaly/above_forecast_band')).toBeGreaterThanOrEqual(2);
    expect(result.stats.prescaleFloorWrites).toBeGreaterThan(0);
  }, 60_000);
});
