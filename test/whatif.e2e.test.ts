/**
 * `shadowscale whatif` end to end: a real Prometheus holding five days of real HTTP traffic (NASA,
 * July 1995, per minute) as a workload's load series, and the in-test API server holding the HPA the
 * workload runs today; whatif reads both and replays the series. Its figures are those of
 * `shadowscale simulate` on a CSV of the same series with the HPA's settings, to the last digit, and
 * its HTML report is written.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runWhatif } from '../cli/whatif.ts';
import { parseQuantity } from '../platform/quantity.ts';
import { FakeKubeApi } from './harness/kube-api.ts';
import { autoCapacity } from '../core/simulator/trace.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';
import { loadFixture, NASA_TWO_WEEKS } from './harness/fixtures.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'shadowscale.mjs');
const STEP = 60;
const DAYS = 5;
const dir = mkdtempSync(join(tmpdir(), 'shadowscale-whatif-'));

describe('shadowscale whatif against a real Prometheus', () => {
  // A frozen clock: the window whatif reads is then known exactly.
  const nowMs = Math.floor(Date.now() / 1000) * 1000;
  const end = Math.floor(nowMs / 1000 / STEP) * STEP;
  const full = loadFixture(NASA_TWO_WEEKS);
  // The last five days of the fortnight, ending on the last step whatif asks for.
  const n = DAYS * 1440 + 1;
  const values = full.values.slice(-n);
  const timestamps = values.map((_, i) => end - (n - 1 - i) * STEP);
  const capacity = autoCapacity({ start: 0, stepSeconds: STEP, values: Float64Array.from(values) });
  const perReplica = timestamps.map((_, i) => 30 + 10 * Math.sin((2 * Math.PI * i) / 1440));
  let prometheus: PrometheusServer;
  let configFile: string;
  let kubeconfig: string;
  const kube = new FakeKubeApi();
  // The HPA run today: 2..50 replicas, its Pods metric (requests per second) at 70 % of capacity.
  const averageValue = `${Math.round(0.7 * capacity * 1000)}m`;
  const target = parseQuantity(averageValue) / capacity;

  beforeAll(async () => {
    const server = await kube.start();
    kube.hpa('web', 'nasa', 'nasa', 2, 50, { metrics: [{ type: 'Pods', pods: { metric: { name: 'http_requests_per_second' }, target: { type: 'AverageValue', averageValue } } }] });
    kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "${server}", insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: test } }]
contexts: [{ name: ctx, context: { cluster: c, user: u } }]
current-context: ctx
`);
    const kpi = { namespace: 'web', workload: 'nasa' };
    prometheus = await startPrometheus({
      history: [
        { name: 'http_requests_per_second', labels: { workload: 'nasa', namespace: 'web' }, timestamps, values },
        // What the KPI rules recorded: the load per ready primary replica, its p99 (over the SLO when
        // a replica carries more than 38) and error ratio, and the workload's bounds.
        { name: 'shadowscale:requests_per_ready_replica:rate1m', labels: { ...kpi, role: 'primary' }, timestamps, values: perReplica },
        { name: 'shadowscale:request_latency_seconds:p99_rate5m', labels: { ...kpi, role: 'primary' }, timestamps, values: perReplica.map((r) => (r > 38 ? 0.8 : 0.3)) },
        { name: 'shadowscale:request_errors:ratio_rate5m', labels: { ...kpi, role: 'primary' }, timestamps, values: timestamps.map(() => 0.001) },
        { name: 'shadowscale:bound:latency_p99_seconds', labels: kpi, timestamps, values: timestamps.map(() => 0.5) },
        { name: 'shadowscale:bound:error_ratio', labels: kpi, timestamps, values: timestamps.map(() => 0.01) },
      ],
    });
    configFile = join(dir, 'shadowscale.yaml');
    writeFileSync(
      configFile,
      `prometheus: { url: ${prometheus.url}, timeout: 10s }
workloads:
  - name: nasa
    namespace: web
    load: http_requests_per_second{workload="nasa"}
    capacityPerReplica: ${capacity}
    provisioningLag: 2m
    primary: { name: nasa, minReplicas: 1, maxReplicas: 60 }
    shadow: { name: nasa-shadow, minReplicas: 1, maxReplicas: 5, resourceFraction: 0.5, mirrorPercent: 10 }
  - name: bare
    namespace: web
    load: http_requests_per_second{workload="nasa"}
    capacityPerReplica: ${capacity}
    primary: { name: bare, minReplicas: 1, maxReplicas: 60 }
  - name: other
    namespace: web
    load: http_requests_per_second{workload="other"}
    capacityPerReplica: 1
    primary: { name: other, minReplicas: 1, maxReplicas: 10 }
`,
    );
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    await kube.stop();
  });

  it('replays the HPA read from the cluster, gives the figures simulate gives on the same series with the same settings, says what they mean, and writes the report', async () => {
    let text = '';
    const out = new Writable({ write: (chunk, _enc, done) => ((text += chunk), done()) });
    const report = join(dir, 'whatif.html');
    const [result] = await runWhatif({ config: configFile, workload: 'web/nasa', since: `${DAYS}d`, targetUtilization: '0.8', kubeconfig, json: true, report }, out, nowMs);
    const json = JSON.parse(text);
    expect(json.workloads).toHaveLength(1);
    expect(json.workloads[0]).toMatchObject({ workload: 'web/nasa', from: end - DAYS * 86_400, to: end });
    expect(json.workloads[0].autoscaler).toEqual({
      source: `HorizontalPodAutoscaler web/nasa (target from its Pods metric's averageValue ${averageValue} ÷ capacityPerReplica ${capacity})`,
      minReplicas: 2,
      maxReplicas: 50,
      targetUtilization: target,
    });
    expect(json.workloads[0].report.targetUtilization).toBe(target);
    expect(kube.requests.filter((r) => r.method !== 'GET')).toEqual([]);

    // The same series as a CSV, through `shadowscale simulate` with the same settings.
    const csv = join(dir, 'nasa.csv');
    writeFileSync(csv, `timestamp,value\n${timestamps.map((t, i) => `${t},${values[i]}`).join('\n')}\n`);
    const sim = spawnSync(process.execPath, [BIN, 'simulate', '--trace', csv, '--policies', 'hpa,shadowscale,oracle', '--capacity', String(capacity), '--max-replicas', '50', '--min-replicas', '2', '--target-utilization', String(target), '--provisioning-lag', '2m', '--json'], { encoding: 'utf8', timeout: 300_000 });
    expect(sim.stderr).toBe('');
    const simulated = JSON.parse(sim.stdout);
    expect(json.workloads[0].report.policies).toEqual(simulated.policies);
    expect(result.report.steps).toBe(simulated.steps);
    // Something was simulated: every scored tick of the last four days, and shadowscale fitted forecasts.
    expect(simulated.policies[0].scoredTicks).toBe(simulated.steps);
    expect(simulated.steps).toBeGreaterThan(4 * 5760 - 10);

    const [hpa, ss] = json.workloads[0].report.policies;
    const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
    expect(json.workloads[0].summary).toContain(`${pct(ss.unservedFraction)} unserved instead of ${pct(hpa.unservedFraction)} for ${(ss.replicaSeconds / hpa.replicaSeconds).toFixed(2)} × the replica-seconds`);
    expect(readFileSync(report, 'utf8')).toMatch(/^<!doctype html>[\s\S]*web\/nasa[\s\S]*<\/html>\s*$/i);
  }, 600_000);

  it('says where the HPA replayed comes from when the cluster has none for the workload, or is not asked', async () => {
    const quiet = new Writable({ write: (_c, _e, d) => d() });
    // The workload's HPA deleted: the configuration's bounds and the flag.
    kube.objects.delete('/apis/autoscaling/v2/namespaces/web/horizontalpodautoscalers/nasa');
    const [missing] = await runWhatif({ config: configFile, workload: 'web/nasa', since: '2d', targetUtilization: '0.75', kubeconfig, json: true }, quiet, nowMs);
    expect(missing.autoscaler).toEqual({ source: "the configuration's primary.minReplicas and maxReplicas, and --target-utilization 0.75 (no HorizontalPodAutoscaler web/nasa)", minReplicas: 1, maxReplicas: 60, targetUtilization: 0.75 });
    const [off] = await runWhatif({ config: configFile, workload: 'web/nasa', since: '2d', targetUtilization: '0.75', cluster: false, json: true }, quiet, nowMs);
    expect(off.autoscaler.source).toContain('(--no-cluster)');
    expect(off.report.policies).toEqual(missing.report.policies);
  }, 300_000);

  it('estimates the capacity per replica from the KPI series: the most a replica carried within the SLO', async () => {
    const [r] = await runWhatif({ config: configFile, workload: 'web/nasa', since: `${DAYS}d`, targetUtilization: '0.8', cluster: false, estimateCapacity: true, json: true }, new Writable({ write: (_c, _e, d) => d() }), nowMs);
    // Prometheus' quantile_over_time: linear between the ranks, over the minutes within the SLO.
    const within = perReplica.filter((x) => x <= 38).sort((a, b) => a - b);
    const rank = 0.99 * (within.length - 1);
    const expected = within[Math.floor(rank)] + (within[Math.ceil(rank)] - within[Math.floor(rank)]) * (rank - Math.floor(rank));
    expect(r.capacity.perReplica).toBeCloseTo(expected, 3);
    expect(r.capacity.perReplica).toBeLessThan(38);
    expect(r.capacity.source).toBe(`estimated: the 0.99 quantile of the load per ready primary replica over the last ${DAYS}d, at the minutes its p99 latency and error ratio were within the SLO (configured: ${capacity})`);
    expect(r.report.capacityPerReplica).toBe(r.capacity.perReplica);
    // A workload with a load but no KPI series: it says what is missing.
    await expect(runWhatif({ config: configFile, workload: 'web/bare', since: '1d', targetUtilization: '0.8', cluster: false, estimateCapacity: true }, new Writable({ write: (_c, _e, d) => d() }), nowMs)).rejects.toThrow(
      'web/bare: no estimate of the capacity per replica: over the last 1d, no minute with the load per ready primary replica',
    );
  }, 300_000);

  it('names a workload whose query has no history, and a workload that is not configured, with exit status 2 for the latter', async () => {
    await expect(runWhatif({ config: configFile, workload: 'web/other', since: '1d', targetUtilization: '0.8', cluster: false, json: true }, new Writable({ write: (_c, _e, d) => d() }), nowMs)).rejects.toThrow(
      'web/other: the load query returned 0 series over the last 1d; there is no history to replay',
    );
    const r = spawnSync(process.execPath, [BIN, 'whatif', '--config', configFile, '--workload', 'web/nope'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`shadowscale whatif: --workload web/nope: no such workload in ${configFile} (expected namespace/name, one of web/nasa, web/bare, web/other)`);
    // Bad options are named before Prometheus or the cluster is asked anything.
    const quiet = new Writable({ write: (_c, _e, d) => d() });
    await expect(runWhatif({ config: configFile, since: 'a while', targetUtilization: '0.8' }, quiet, nowMs)).rejects.toThrow('--since "a while" is not a duration such as 14d or 36h');
    await expect(runWhatif({ config: configFile, since: '1d', targetUtilization: '1.5' }, quiet, nowMs)).rejects.toThrow('--target-utilization must be in (0, 1], got "1.5"');
    await expect(runWhatif({ config: configFile, since: '1d', targetUtilization: '0.8', kubeconfig: join(dir, 'missing-kubeconfig') }, quiet, nowMs)).rejects.toThrow(`--kubeconfig ${join(dir, 'missing-kubeconfig')}:`);
  });
});
