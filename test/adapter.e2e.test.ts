/**
 * The adapter end to end: a real Prometheus holding two weeks of real HTTP traffic, the adapter
 * started on a config pointing at it, and every way in (HPA external metrics over HTTPS, KEDA gRPC,
 * KEDA metrics-api, REST, /metrics scraped back by Prometheus) compared with what the forecasting
 * engine computes offline on the same data.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import https from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import fit from '../adapter/fit-worker.ts';
import { loadExternalScalerProto } from '../adapter/keda.ts';
import { toQuantity } from '../platform/quantity.ts';
import { startAdapter, type RunningAdapter } from '../adapter/server.ts';
import { riseHeadroomOf, volatilityOf } from '../core/planner/serving.ts';
import { view } from '../adapter/serving.ts';
import { parseConfig, workloadTiming, type Config } from '../core/config.ts';
import { isTrusted } from '../core/planner/planner.ts';
import { loadFixture, NASA_TWO_WEEKS } from './harness/fixtures.ts';
import { freePort } from '../platform/runtime/ports.ts';
import { queryRange, startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';

const STEP = 60;
const trace = loadFixture(NASA_TWO_WEEKS);

/**
 * The trace shifted so that its last sample falls on the last step the adapter asks for: then every
 * step holds a real sample (no lookback padding at the end), and the offline input is exactly the
 * trace. (Data past now would also do, but Prometheus then refuses the scrapes it is older than.)
 */
function shiftedTrace(nowSeconds: number) {
  const end = Math.floor(nowSeconds / STEP) * STEP;
  const last = trace.timestamps[trace.timestamps.length - 1];
  return { timestamps: trace.timestamps.map((t) => t - last + end), values: [...trace.values] };
}

function config(prometheusUrl: string, ports: { http: number; https: number; grpc: number }, extra = ''): Config {
  return parseConfig(
    `
prometheus: { url: ${prometheusUrl}, timeout: 5s }
adapter:
  listen: { http: "127.0.0.1:${ports.http}", https: "127.0.0.1:${ports.https}", grpc: "127.0.0.1:${ports.grpc}" }
  history: 14d
  step: 1m
  refresh: 1m
  forecastTTL: 10m
workloads:
  - name: nasa
    namespace: web
    load: http_requests_per_minute{workload="nasa"} / 60
    capacityPerReplica: 0.5
    provisioningLag: 2m
    model: mstl
    primary: { name: nasa, minReplicas: 1, maxReplicas: 100 }
    shadow: { name: nasa-shadow, minReplicas: 1, maxReplicas: 10, mirrorPercent: 10 }
  - name: nasa-dry
    namespace: web
    load: http_requests_per_minute{workload="nasa"} / 60
    capacityPerReplica: 0.5
    provisioningLag: 2m
    model: mstl
    dryRun: true
    primary: { name: nasa-dry, minReplicas: 1, maxReplicas: 100 }
${extra}`,
    'test-config.yaml',
  );
}

/** The adapter's self-signed certificate, trusted as a CA: TLS is verified, as the aggregator would. */
let trustedCa: string | undefined;
function getJson(url: string): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    // A fresh connection each time: a kept-alive one idle past the server's keep-alive timeout (while
    // the test computes its expectation) can be closed just as the request goes out (ECONNRESET).
    get(url, { ca: trustedCa, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text), headers: res.headers }));
    }).on('error', reject);
  });
}

function kedaClient(address: string) {
  const proto = loadExternalScalerProto() as any;
  return new proto.externalscaler.ExternalScaler(address, grpc.credentials.createInsecure());
}
function grpcCall<T>(client: any, method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => client[method](request, (error: Error | null, response: T) => (error ? reject(error) : resolve(response))));
}

describe('adapter against a real Prometheus with two weeks of NASA HTTP traffic', () => {
  // A frozen clock: the adapter's query window and forecast window are then known exactly.
  const nowMs = Math.floor(Date.now() / 1000) * 1000;
  const shifted = shiftedTrace(nowMs / 1000);
  // The clock moves only where a test moves it (and puts it back).
  let clockOffsetMs = 0;
  let prometheus: PrometheusServer;
  let adapter: RunningAdapter;
  let cfg: Config;

  beforeAll(async () => {
    const ports = { http: await freePort(), https: await freePort(), grpc: await freePort() };
    prometheus = await startPrometheus({
      history: [{ name: 'http_requests_per_minute', labels: { workload: 'nasa', namespace: 'web' }, ...shifted }],
      scrapeTargets: [{ job: 'shadowscale-adapter', target: `127.0.0.1:${ports.http}` }],
    });
    cfg = config(prometheus.url, ports, `
  - name: broken
    namespace: web
    load: sum(rate(http_requests_total))
    capacityPerReplica: 10
    primary: { name: broken, minReplicas: 3, maxReplicas: 10 }`);
    adapter = await startAdapter(cfg, { logger: pino({ level: 'silent' }), now: () => nowMs + clockOffsetMs });
    trustedCa = adapter.certificate;
    // The first round fits without backtests (ready sooner); the second one scores.
    const first = (await getJson(`${adapter.httpUrl}/predict/capacity?workload=nasa&namespace=web`)).body;
    expect(first.backtest).toBeNull();
    expect(first.trusted).toBe(false);
    await adapter.loop.refreshAll();
  }, 120_000);

  afterAll(async () => {
    await adapter?.stop();
    await prometheus?.stop();
  });

  const offlineCache = new Map<string, ReturnType<typeof computeOffline>>();
  const offline = (name: string) => {
    if (!offlineCache.has(name)) offlineCache.set(name, computeOffline(name));
    return offlineCache.get(name)!;
  };

  /** What the engine computes offline on the same data: the same job as the worker, run in-process. */
  async function computeOffline(name: string) {
    const w = cfg.workloads.find((x) => x.name === name)!;
    const timing = workloadTiming(cfg, w);
    const end = Math.floor(nowMs / 1000 / STEP) * STEP;
    const start = end - timing.historySeconds;
    const keep = shifted.timestamps.map((t) => t >= start && t <= end);
    const timestamps = shifted.timestamps.filter((_, i) => keep[i]);
    const values = shifted.values.filter((_, i) => keep[i]).map((v) => v / 60);
    const outcome = await fit({
      timestamps: Float64Array.from(timestamps),
      values: Float64Array.from(values),
      stepSeconds: STEP,
      horizon: Math.ceil((w.provisioningLag + Math.max(timing.refreshSeconds, cfg.adapter.forecastTTL)) / STEP) + 1,
      model: w.model,
      rescore: true,
      maxHistory: Math.round(timing.historySeconds / STEP),
      scoreHorizon: Math.ceil(w.provisioningLag / STEP),
    });
    const score = outcome.score ? { ...outcome.score, at: nowMs } : undefined;
    const v = view(
      {
        config: w,
        lagSeconds: w.provisioningLag,
        forecast: { forecast: outcome.forecast, fittedAt: nowMs, model: outcome.chosenModel },
        pastForecasts: [],
        observed: { value: values[values.length - 1], at: timestamps[timestamps.length - 1] },
        lagVolatility: volatilityOf({ timestamps, values }, STEP, w.provisioningLag),
        // Learned over a lag and the time the load takes to be seen again (adapter.observe, 15 s).
        riseHeadroom: riseHeadroomOf({ timestamps, values }, STEP, w.provisioningLag + 15, w.headroomQuantile),
        score,
        trusted: isTrusted(score),
        lastAttempt: { at: nowMs, ok: true },
      },
      nowMs,
      cfg.adapter.forecastTTL,
    );
    return { outcome, view: v, points: values.length };
  }

  it('fits the same forecast as the engine does offline', async () => {
    const expected = await offline('nasa');
    expect(expected.points).toBe(14 * 1440);
    const { status, body } = await getJson(`${adapter.httpUrl}/predict/capacity?workload=nasa&namespace=web`);
    expect(status).toBe(200);
    expect(body.rung).toBe('fresh');
    expect(body.model).toMatchObject({ requested: 'mstl', used: 'mstl', rung: 'mstl' });
    expect(body.forecast.point).toEqual(expected.outcome.forecast.point);
    expect(body.forecast.upper95).toEqual(expected.outcome.forecast.intervals[0.95].upper);
    expect(body.predictedLoad).toBe(expected.view.served.predictedLoad);
    expect(body.desiredReplicas).toBe(expected.view.served.desiredReplicas);
    expect(body.backtest.relMae).toBe(expected.outcome.score!.relMae);
  });

  it('reads the current load between refreshes with an instant query at its own clock (adapter.observe), and plans on it', async () => {
    const expected = await offline('nasa');
    await adapter.loop.observeAll();
    const { body } = await getJson(`${adapter.httpUrl}/predict/capacity?workload=nasa&namespace=web`);
    // The instant query's time, not the history's last step (a minute boundary at or before it).
    expect(body.observed).toEqual({ value: shifted.values[shifted.values.length - 1] / 60, at: nowMs / 1000 });
    expect(body.predictedLoad).toBe(expected.view.served.predictedLoad);
    // A workload whose query answers nothing keeps what it had (here: nothing).
    const broken = await getJson(`${adapter.httpUrl}/predict/capacity?workload=broken&namespace=web`);
    expect(broken.body.observed).toBeNull();
  });

  it('serves the HPA the offline value through external.metrics.k8s.io over HTTPS, selected by label', async () => {
    const expected = (await offline('nasa')).view.served;
    const base = `${adapter.httpsUrl}/apis/external.metrics.k8s.io/v1beta1/namespaces/web`;
    const { status, body, headers } = await getJson(`${base}/shadowscale_predicted_load?labelSelector=${encodeURIComponent('workload=nasa')}`);
    expect(status).toBe(200);
    // Nothing revalidates a metric: no ETag is computed for it.
    expect(headers.etag).toBeUndefined();
    expect(body).toEqual({
      kind: 'ExternalMetricValueList',
      apiVersion: 'external.metrics.k8s.io/v1beta1',
      metadata: {},
      items: [
        {
          metricName: 'shadowscale_predicted_load',
          metricLabels: { workload: 'nasa', namespace: 'web' },
          timestamp: new Date(nowMs).toISOString().replace('.000Z', 'Z'),
          window: 60,
          value: toQuantity(expected.predictedLoad),
        },
      ],
    });
    const replicas = await getJson(`${base}/shadowscale_desired_replicas?labelSelector=${encodeURIComponent('workload in (nasa),namespace=web')}`);
    expect(replicas.body.items).toHaveLength(1);
    expect(replicas.body.items[0].value).toBe(String(expected.desiredReplicas));
    const pool = await getJson(`${base}/shadowscale_shadow_pool_size?labelSelector=workload%3Dnasa`);
    expect(pool.body.items[0].value).toBe(String(expected.shadowPoolSize));
  });

  it('serves the reactive value in dry-run while exporting the forecast plan', async () => {
    const expected = await offline('nasa-dry');
    const { body } = await getJson(`${adapter.httpUrl}/predict/capacity?workload=nasa-dry&namespace=web`);
    expect(body.dryRun).toBe(true);
    expect(body.desiredReplicas).toBe(expected.view.served.desiredReplicas);
    expect(body.plan.desiredReplicas).toBe(expected.view.plan.desiredReplicas);
    expect(body.plan.bound).not.toBe('observed');
    expect(expected.view.served.bound).toBe('observed');
  });

  it('keeps, for the dry-run workload only, what the HPA is asked against what the plan would ask, and exports it', async () => {
    try {
      for (const offset of [0, 15_000, 30_000, 45_000]) {
        clockOffsetMs = offset;
        await adapter.loop.observeAll();
      }
      // A scrape that arrives while another is being rendered shares that rendering, which may have
      // begun before the last observation: the second fetch is rendered after it.
      await (await fetch(`${adapter.httpUrl}/metrics`)).text();
      const text = await (await fetch(`${adapter.httpUrl}/metrics`)).text();
      const sample = (name: string, workload: string, side?: string) => {
        const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`workload="${workload}"`) && (!side || l.includes(`side="${side}"`)));
        return line === undefined ? undefined : Number(line.split(' ').pop());
      };
      // Three intervals of 15 s observed; the load is flat, so neither side leaves any unserved.
      expect(sample('shadowscale_whatif_window_seconds', 'nasa-dry')).toBe(45);
      for (const side of ['hpa', 'shadowscale']) {
        expect(sample('shadowscale_whatif_unserved_ratio', 'nasa-dry', side)).toBe(0);
        expect(sample('shadowscale_whatif_replica_seconds', 'nasa-dry', side)).toBeGreaterThan(0);
      }
      // The plan keeps headroom: it would have cost more than the reactive value.
      expect(sample('shadowscale_whatif_replica_seconds', 'nasa-dry', 'shadowscale')).toBeGreaterThanOrEqual(sample('shadowscale_whatif_replica_seconds', 'nasa-dry', 'hpa')!);
      expect(sample('shadowscale_whatif_window_seconds', 'nasa')).toBeUndefined();
      expect(sample('shadowscale_whatif_unserved_ratio', 'nasa', 'hpa')).toBeUndefined();
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('answers the discovery documents kubectl and the aggregator read', async () => {
    const apis = await getJson(`${adapter.httpsUrl}/apis`);
    expect(apis.body.groups[0]).toMatchObject({ name: 'external.metrics.k8s.io', preferredVersion: { version: 'v1beta1' } });
    const group = await getJson(`${adapter.httpsUrl}/apis/external.metrics.k8s.io`);
    expect(group.body.kind).toBe('APIGroup');
    const resources = await getJson(`${adapter.httpsUrl}/apis/external.metrics.k8s.io/v1beta1`);
    expect(resources.body.resources.map((r: { name: string }) => r.name)).toEqual(['shadowscale_predicted_load', 'shadowscale_desired_replicas', 'shadowscale_shadow_pool_size']);
    expect(resources.body.resources[0]).toEqual({ name: 'shadowscale_predicted_load', singularName: '', namespaced: true, kind: 'ExternalMetricValueList', verbs: ['get'] });
  });

  it.each([
    ['an unknown metric', 'namespaces/web/requests_total', 404, 'NotFound', /external metric "requests_total" is not served/],
    ['a malformed selector', `namespaces/web/shadowscale_predicted_load?labelSelector=${encodeURIComponent('workload in (nasa')}`, 400, 'BadRequest', /invalid labelSelector/],
    ['a selector matching nothing', 'namespaces/web/shadowscale_predicted_load?labelSelector=workload%3Dnone', 404, 'NotFound', /no shadowscale workload in namespace "web" matches/],
    ['another namespace', 'namespaces/shop/shadowscale_predicted_load', 404, 'NotFound', /namespace "shop"/],
  ])('answers %s with a 4xx Kubernetes Status', async (_what, path, code, reason, message) => {
    const { status, body } = await getJson(`${adapter.httpsUrl}/apis/external.metrics.k8s.io/v1beta1/${path}`);
    expect(status).toBe(code);
    expect(body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code });
    expect(body.message).toMatch(message);
  });

  it('serves KEDA the offline value through the external-scaler gRPC contract, both fields filled', async () => {
    const expected = (await offline('nasa')).view.served;
    const client = kedaClient(adapter.grpcAddress!);
    const ref = { name: 'nasa-so', namespace: 'web', scalerMetadata: { workload: 'nasa' } };
    try {
      const spec = await grpcCall<any>(client, 'GetMetricSpec', ref);
      expect(spec.metricSpecs).toEqual([{ metricName: 'shadowscale_predicted_load', targetSize: 1, targetSizeFloat: 0.5 }]);
      const metrics = await grpcCall<any>(client, 'GetMetrics', { scaledObjectRef: ref, metricName: 'shadowscale_predicted_load' });
      expect(metrics.metricValues).toHaveLength(1);
      expect(metrics.metricValues[0].metricValueFloat).toBe(expected.predictedLoad);
      expect(metrics.metricValues[0].metricValue).toBe(Math.round(expected.predictedLoad));
      expect((await grpcCall<any>(client, 'IsActive', ref)).result).toBe(expected.predictedLoad > 0);
      const replicas = await grpcCall<any>(client, 'GetMetrics', { scaledObjectRef: { ...ref, scalerMetadata: { workload: 'nasa', metric: 'shadowscale_desired_replicas' } }, metricName: 'shadowscale_desired_replicas' });
      expect(replicas.metricValues[0].metricValueFloat).toBe(expected.desiredReplicas);
      const missing: any = await grpcCall(client, 'GetMetrics', { scaledObjectRef: { ...ref, scalerMetadata: { workload: 'nope' } }, metricName: 'x' }).catch((e) => e);
      expect(missing.code).toBe(grpc.status.NOT_FOUND);
      const unimplemented = await new Promise<any>((resolve) => {
        const stream = client.StreamMetricSpec(ref);
        stream.on('error', resolve);
        stream.on('data', () => undefined);
      });
      expect(unimplemented.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  it('describes the shadows through /shadow/config and /shadow/metrics', async () => {
    const expected = (await offline('nasa')).view.served;
    const config = await getJson(`${adapter.httpUrl}/shadow/config`);
    expect(config.body.workloads[0]).toMatchObject({
      workload: 'nasa',
      namespace: 'web',
      shadow: { name: 'nasa-shadow', minReplicas: 1, maxReplicas: 10, mirrorPercent: 10, resourceFraction: 0.5 },
      capacityPerReplica: 0.5,
      provisioningLagSeconds: 120,
    });
    expect(config.body.workloads[1].shadow).toBeNull();
    const metrics = await getJson(`${adapter.httpUrl}/shadow/metrics`);
    expect(metrics.body.workloads[0]).toEqual({ workload: 'nasa', namespace: 'web', shadowPoolSize: expected.shadowPoolSize, shadowCapacity: 0.25, mirrorPercent: 10, predictedLoad: expected.predictedLoad, rung: 'fresh' });
  });

  it('serves KEDA\'s metrics-api the offline value as plain JSON', async () => {
    const expected = (await offline('nasa')).view.served;
    const { status, body } = await getJson(`${adapter.httpUrl}/keda/metrics?workload=nasa&namespace=web`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ workload: 'nasa', namespace: 'web', predictedLoad: expected.predictedLoad, desiredReplicas: expected.desiredReplicas, rung: 'fresh' });
  });

  it('reports a query Prometheus refuses (valid syntax, wrong type) on that workload alone and serves its configured minimum, never 0', async () => {
    const { body } = await getJson(`${adapter.httpUrl}/predict/capacity?workload=broken&namespace=web`);
    expect(body.rung).toBe('minimum');
    expect(body.lastAttempt).toMatchObject({ ok: false, stage: 'query' });
    expect(body.lastAttempt.error).toMatch(/sum\(rate\(http_requests_total\)\)": bad_data: .*range vector/);
    expect(body.desiredReplicas).toBe(3);
    expect(body.predictedLoad).toBe(30);
    const hpa = await getJson(`${adapter.httpsUrl}/apis/external.metrics.k8s.io/v1beta1/namespaces/web/shadowscale_predicted_load?labelSelector=workload%3Dbroken`);
    expect(hpa.body.items[0].value).toBe('30');
    expect((await getJson(`${adapter.httpUrl}/predict/capacity?workload=nasa&namespace=web`)).body.rung).toBe('fresh');
  });

  it('is scraped by Prometheus: the forecast series are queryable there and equal what is served', async () => {
    const expected = (await offline('nasa')).view;
    const query = 'shadowscale_forecast_load{workload="nasa",namespace="web",quantile="0.5"}';
    // A scrape that began after this test did: an earlier test moves the adapter's clock, and a scrape
    // made meanwhile exports the forecast as seen from then.
    const since = Date.now() / 1000 + 0.5;
    let values: number[] = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const end = Date.now() / 1000;
      const result = await queryRange(prometheus.url, `${query} and timestamp(${query}) > ${since}`, end - 30, end, 1);
      values = result[0]?.values.map(([, v]) => Number(v)) ?? [];
      if (values.length > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(values.length).toBeGreaterThan(0);
    expect(values[values.length - 1]).toBeCloseTo(expected.atHorizon!.point, 9);
    const rung = await queryRange(prometheus.url, 'shadowscale_serving_rung{workload="broken",rung="minimum"}', Date.now() / 1000 - 30, Date.now() / 1000, 1);
    expect(Number(rung[0].values.at(-1)![1])).toBe(1);
    const errors = await queryRange(prometheus.url, 'shadowscale_prometheus_query_errors_total{workload="broken"}', Date.now() / 1000 - 30, Date.now() / 1000, 1);
    expect(errors[0].metric.error_type).toBe('bad_data');
  });

  it('restarted, reads its backtest scores back from Prometheus instead of running every backtest again; a changed setting is scored afresh', async () => {
    const stamps = 'shadowscale_backtest_timestamp_seconds{namespace="web"}';
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      if ((await queryRange(prometheus.url, stamps, Date.now() / 1000 - 30, Date.now() / 1000, 1)).length >= 2) break;
    }
    const before = (await getJson(`${adapter.httpUrl}/predict/capacity?workload=nasa&namespace=web`)).body;
    const ports = { http: await freePort(), https: await freePort(), grpc: await freePort() };
    const again = config(prometheus.url, ports);
    // One setting the score depends on changed for nasa-dry: its old score does not apply.
    again.workloads[1].provisioningLag = 180;
    const restarted = await startAdapter(again, { logger: pino({ level: 'silent' }), now: () => nowMs + 60_000 });
    try {
      expect(restarted.loop.rememberedScores).toBe(1);
      const after = (await getJson(`${restarted.httpUrl}/predict/capacity?workload=nasa&namespace=web`)).body;
      // The very score, computed when the first adapter fitted (its clock), not a new one.
      expect(after.backtest).toEqual(before.backtest);
      expect(after.backtest.at).toBe(nowMs);
      expect(after.trusted).toBe(before.trusted);
      expect(after.model.used).toBe(before.model.used);
      // Not remembered: fitted first, scored at its next refresh.
      expect((await getJson(`${restarted.httpUrl}/predict/capacity?workload=nasa-dry&namespace=web`)).body.backtest).toBeNull();
      await restarted.loop.refreshAll();
      const dry = (await getJson(`${restarted.httpUrl}/predict/capacity?workload=nasa-dry&namespace=web`)).body;
      expect(dry.backtest.at).toBe(nowMs + 60_000);
    } finally {
      await restarted.stop();
    }
  });

  it('keeps the forecast at a refresh that brings no new sample (a refit would give the same), and fits again when a new step arrives', async () => {
    const counts = async () => {
      const text = await (await fetch(`${adapter.httpUrl}/metrics`)).text();
      const sum = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`)).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
      return { fits: sum('shadowscale_fit_duration_seconds_count'), kept: sum('shadowscale_forecasts_kept_total') };
    };
    const predict = async () => (await getJson(`${adapter.httpUrl}/predict/capacity?workload=nasa&namespace=web`)).body;
    const nextStepMs = (Math.floor(nowMs / 1000 / STEP) + 1) * STEP * 1000;
    const before = await predict();
    const c0 = await counts();
    try {
      // Later within the same step: nothing new to fit on.
      clockOffsetMs = nextStepMs - nowMs - 500;
      await adapter.loop.refreshAll();
      const same = await predict();
      const c1 = await counts();
      expect(c1.fits).toBe(c0.fits);
      expect(c1.kept - c0.kept).toBe(2); // nasa and nasa-dry ('broken' fails at its query)
      // The very forecast (fit time, bands and all)...
      const fitted = ({ dataCurrentAt: _d, ageSeconds: _a, ...rest }: Record<string, unknown>) => rest;
      expect(fitted(same.forecast)).toEqual(fitted(before.forecast));
      expect(same.forecast.fittedAt).toBe(new Date(nowMs).toISOString());
      // ...fitted on data that is current now: its age counts from this refresh, as a refit's would.
      expect(same.forecast.dataCurrentAt).toBe(new Date(nextStepMs - 500).toISOString());
      expect(same.forecast.ageSeconds).toBe(0);
      expect(same.rung).toBe('fresh');
      // The next step: a new sample, a new fit.
      clockOffsetMs = nextStepMs - nowMs + 1000;
      await adapter.loop.refreshAll();
      const next = await predict();
      const c2 = await counts();
      expect(c2.fits - c1.fits).toBe(2);
      expect(c2.kept).toBe(c1.kept);
      expect(next.forecast.fittedAt).toBe(new Date(nextStepMs + 1000).toISOString());
      expect(next.forecast.start).toBe(before.forecast.start + STEP);
    } finally {
      clockOffsetMs = 0;
    }
  });
});

describe('adapter when Prometheus goes away mid-run', () => {
  let prometheus: PrometheusServer;
  let adapter: RunningAdapter;
  const logLines: Array<{ level: number; msg: string; rung?: string; previousRung?: string | null; stage?: string }> = [];

  beforeAll(async () => {
    const nowSeconds = Date.now() / 1000;
    const shifted = shiftedTrace(nowSeconds);
    // Three days are enough history for a daily cycle and keep each refresh cheap.
    const from = shifted.timestamps.length - 3 * 1440;
    prometheus = await startPrometheus({
      history: [{ name: 'http_requests_per_minute', labels: { workload: 'nasa', namespace: 'web' }, timestamps: shifted.timestamps.slice(from), values: shifted.values.slice(from) }],
    });
    const cfg = parseConfig(
      `
prometheus: { url: ${prometheus.url}, timeout: 1s }
adapter:
  listen: { http: "127.0.0.1:0" }
  history: 3d
  step: 1m
  refresh: 1s
  forecastTTL: 4s
  jitter: 0
workloads:
  - name: nasa
    namespace: web
    load: http_requests_per_minute{workload="nasa"} / 60
    capacityPerReplica: 0.5
    provisioningLag: 1m
    model: seasonal-naive
    primary: { name: nasa, minReplicas: 2, maxReplicas: 100 }
`,
      'fault-config.yaml',
    );
    adapter = await startAdapter(cfg, { logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) }) });
  }, 60_000);

  afterAll(async () => {
    await adapter?.stop();
    await prometheus?.stop();
  });

  it('walks the ladder down while Prometheus hangs and then dies (fresh → stale → minimum, never up), reports each rung, never serves 0, and is fresh again soon after it is back', async () => {
    const capacity = async () => (await getJson(`${adapter.httpUrl}/predict/capacity?workload=nasa&namespace=web`)).body;
    const metric = async (rung: string) => {
      const text = await (await fetch(`${adapter.httpUrl}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`shadowscale_serving_rung{workload="nasa",namespace="web",rung="${rung}"}`));
      return Number(line?.split(' ')[1]);
    };
    const fresh = await capacity();
    expect(fresh.rung).toBe('fresh');
    expect(await metric('fresh')).toBe(1);
    // While Prometheus is away, the ladder only moves down: fresh → stale → reactive → minimum.
    const RANK: Record<string, number> = { fresh: 0, stale: 1, reactive: 2, minimum: 3 };
    const ranks: number[] = [];
    const monotonic = () => expect(ranks.every((r, i) => i === 0 || r >= ranks[i - 1]), JSON.stringify(ranks)).toBe(true);
    // First hung (SIGSTOP: connections are accepted and never answered), as a stuck Prometheus is ...
    process.kill(prometheus.pid, 'SIGSTOP');
    const seen: string[] = [];
    // The forecast served while stale: the last one fitted before Prometheus went (a refresh may
    // have landed between the read above and the stop), and no other while Prometheus is gone.
    let staleFit: string | undefined;
    const deadline = Date.now() + 20_000;
    const hungUntil = Date.now() + 3000;
    let killed = false;
    let last = fresh;
    while (Date.now() < deadline) {
      // ... then killed.
      if (!killed && Date.now() >= hungUntil) {
        process.kill(prometheus.pid, 'SIGKILL');
        await prometheus.stop();
        killed = true;
      }
      last = await capacity();
      ranks.push(RANK[last.rung]);
      if (seen[seen.length - 1] !== last.rung) seen.push(last.rung);
      expect(last.predictedLoad).toBeGreaterThan(0);
      if (last.rung === 'stale') {
        // The last good forecast is still served while it is younger than the TTL.
        staleFit ??= last.forecast.fittedAt;
        expect(last.forecast.fittedAt).toBe(staleFit);
        expect(Date.parse(staleFit!)).toBeGreaterThanOrEqual(Date.parse(fresh.forecast.fittedAt));
        expect(last.lastAttempt).toMatchObject({ ok: false, stage: 'query' });
        expect(last.lastAttempt.error).toMatch(/unreachable for query/);
      }
      if (last.rung === 'minimum' && killed) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    monotonic();
    expect(seen[0]).toBe('fresh');
    // 'stale' may be skipped: each refresh against the hung server waits out its timeouts, and by the
    // time the first attempt has failed the last forecast may be older than the TTL.
    expect(seen[seen.length - 1]).toBe('minimum');
    expect(last).toMatchObject({ desiredReplicas: 2, predictedLoad: 1 });
    expect(await metric('minimum')).toBe(1);
    expect(await metric('fresh')).toBe(0);

    // A Prometheus answers again at the same address, but without the data (a new one, its volume
    // lost): queries succeed with nothing new. The adapter may refit its cached history, but that
    // forecast is no younger than the data it saw last: the rung stays at the bottom.
    const port = Number(new URL(prometheus.url).port);
    const empty = await startPrometheus({ port });
    try {
      const until = Date.now() + 4000;
      while (Date.now() < until) {
        const now = await capacity();
        ranks.push(RANK[now.rung]);
        expect(now.rung).toBe('minimum');
        expect(now.predictedLoad).toBeGreaterThanOrEqual(1); // minReplicas × capacityPerReplica
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await empty.stop();
    }

    // Prometheus is back with its data: fresh again within two refresh intervals of it answering.
    const nowSeconds = Date.now() / 1000;
    const shifted = shiftedTrace(nowSeconds);
    const from = shifted.timestamps.length - 3 * 1440;
    prometheus = await startPrometheus({ port, history: [{ name: 'http_requests_per_minute', labels: { workload: 'nasa', namespace: 'web' }, timestamps: shifted.timestamps.slice(from), values: shifted.values.slice(from) }] });
    const back = Date.now();
    let rung = (await capacity()).rung;
    while (rung !== 'fresh' && Date.now() - back < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
      rung = (await capacity()).rung;
    }
    expect(rung).toBe('fresh');
    expect(Date.now() - back).toBeLessThan(2 * 1000 + 1500); // two refreshes, and one fit

    // Each change of rung is logged once, with its reason; a failure once when it starts or changes,
    // not at every refresh of the outage (several dozen refreshes here).
    const changes = logLines.filter((l) => l.rung !== undefined).map((l) => `${l.previousRung ?? '-'}→${l.rung}`);
    const walked = changes.join(' ');
    expect(changes.length, walked).toBeLessThanOrEqual(6);
    for (let i = 1; i < changes.length; i++) expect(changes[i], walked).not.toBe(changes[i - 1]);
    expect(walked).toMatch(/→minimum/);
    expect(changes.at(-1), walked).toBe('minimum→fresh');
    const minimum = logLines.find((l) => l.rung === 'minimum')!;
    expect(minimum.msg).toMatch(/serving minimum \(was \w+\): no forecast within the 4 s TTL and no observed load; serving minReplicas × capacityPerReplica/);
    expect(logLines.filter((l) => l.level === 40 && l.stage === 'query').length).toBeLessThan(10);
  });
});

describe('adapter before its first forecasts', () => {
  it('answers 503 (so the HPA and KEDA keep their replicas) and is not ready, while /healthz answers', async () => {
    // The serving certificate comes from files here, as in a cluster (cert-manager or a Secret).
    const dir = mkdtempSync(join(tmpdir(), 'shadowscale-tls-'));
    const pems = await generate([{ name: 'commonName', value: 'shadowscale-adapter.test' }], { keySize: 2048, extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }] });
    writeFileSync(join(dir, 'tls.crt'), pems.cert);
    writeFileSync(join(dir, 'tls.key'), pems.private);
    const cfg = parseConfig(
      `
prometheus: { url: http://127.0.0.1:9, timeout: 1s }
adapter:
  listen: { http: "127.0.0.1:0", https: "127.0.0.1:0" }
  tls: { certFile: "${join(dir, 'tls.crt')}", keyFile: "${join(dir, 'tls.key')}" }
workloads:
  - { name: cold, namespace: web, load: up, capacityPerReplica: 1, primary: { name: cold, maxReplicas: 5 } }
`,
      'cold.yaml',
    );
    const adapter = await startAdapter(cfg, { logger: pino({ level: 'silent' }), noWarmup: true });
    expect(adapter.certificate).toBe(pems.cert);
    trustedCa = pems.cert;
    try {
      expect((await fetch(`${adapter.httpUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${adapter.httpUrl}/readyz`)).status).toBe(503);
      const { status, body } = await getJson(`${adapter.httpsUrl}/apis/external.metrics.k8s.io/v1beta1/namespaces/web/shadowscale_predicted_load`);
      expect(status).toBe(503);
      expect(body).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
      expect((await getJson(`${adapter.httpUrl}/keda/metrics?workload=cold`)).status).toBe(503);
    } finally {
      await adapter.stop();
    }
  });
});
