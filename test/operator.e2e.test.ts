/**
 * The rules as a Prometheus Operator deployment runs them: two adapter replicas and the receiver,
 * scraped through the shipped ServiceMonitors (deploy/components/prometheus-operator/servicemonitors.yaml, translated into the
 * scrape configuration the Operator generates: endpoints discovery's meta labels, the `namespace`,
 * `service`, `pod`, `container`, `job` and `endpoint` target labels, honorLabels as the manifest says),
 * and the app's traffic as the example PodMonitor labels it. Every rule evaluates without error, every
 * adapter series is reduced to one per workload, and the alerts carry the workload's namespace.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PrometheusClient } from '../platform/prometheus.ts';
import { startAdapter, type RunningAdapter } from '../adapter/server.ts';
import { MemoryAudit } from '../alertmanager/audit.ts';
import { startReceiver, type RunningReceiver } from '../alertmanager/service.ts';
import { parseConfig } from '../core/config.ts';
import type { HistorySeries } from '../platform/runtime/openmetrics.ts';
import { endpointTargetGroups, serviceMonitorFrom, serviceMonitorScrapeConfig, writeTargetsFile } from '../platform/runtime/podmonitor.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';
import { until } from './harness/wait.ts';

const ROOT = join(import.meta.dirname, '..');
const MONITORS = join(ROOT, 'deploy', 'components', 'prometheus-operator', 'servicemonitors.yaml');

/** Two hours of the app's traffic and the served load the rules would have recorded, ending now. */
function history(end: number): HistorySeries[] {
  const timestamps = Array.from({ length: 481 }, (_, i) => end - (480 - i) * 15);
  const rps = (t: number) => 100 + 20 * Math.sin(t / 600);
  let total = 0;
  const served = timestamps.map((t, i) => (total += i === 0 ? 0 : rps(t) * 15));
  return [
    { name: 'http_requests', type: 'counter', labels: { namespace: 'shop', deployment: 'checkout', pod: 'checkout-7d4b9c8f6d-abcde', code: '200' }, timestamps, values: served },
    { name: 'shadowscale:load:rate1m', labels: { namespace: 'shop', workload: 'checkout' }, timestamps, values: timestamps.map(rps) },
    { name: 'kube_deployment_status_replicas_ready', labels: { namespace: 'shop', deployment: 'checkout', job: 'kube-state-metrics' }, timestamps, values: timestamps.map(() => 2) },
  ];
}

describe('rules under the Prometheus Operator, with two adapter replicas', () => {
  let dir: string;
  let prometheus: PrometheusServer;
  const adapters: RunningAdapter[] = [];
  let receiver: RunningReceiver;
  let prom: PrometheusClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shadowscale-operator-e2e-'));
    const config = parseConfig(
      stringify({
        prometheus: { url: 'http://127.0.0.1:9', timeout: '5s' },
        adapter: { listen: { http: '127.0.0.1:0' }, history: '2h', step: '15s', refresh: '5s', concurrency: 1 },
        receiver: { listen: '127.0.0.1:0', target: 'local', resync: '1s', stateFile: join(dir, 'state.json') },
        workloads: [
          {
            name: 'checkout',
            namespace: 'shop',
            // 2 ready replicas of 10: a forecast around 100 is beyond them (PredictedOverload).
            capacityPerReplica: 10,
            provisioningLag: '1m',
            model: 'ets',
            slo: { latencyP99: '800ms', errorRatio: 0.02 },
            primary: { name: 'checkout', minReplicas: 2, maxReplicas: 20 },
            shadow: { name: 'checkout-shadow', minReplicas: 1, maxReplicas: 4, mirrorPercent: 10 },
            autoscaler: { kind: 'None' },
          },
        ],
      }),
    );
    const end = Math.floor(Date.now() / 1000) - 1;
    prometheus = await startPrometheus({
      history: history(end),
      ruleFiles: ['inputs/generic.rules.yml', 'inputs/kubernetes.rules.yml', 'kpis.rules.yml', 'forecast.rules.yml', 'alerts.rules.yml'].map((f) => join(ROOT, 'recording-rules', f)),
      scrapeConfigs: ['shadowscale-adapter', 'shadowscale-receiver'].map((name) => serviceMonitorScrapeConfig(serviceMonitorFrom(MONITORS, name), join(dir, `${name}.json`))),
    });
    config.prometheus.url = prometheus.url;
    prom = new PrometheusClient({ url: prometheus.url, timeoutSeconds: 5 });
    for (let i = 0; i < 2; i++) adapters.push(await startAdapter(config, { logger: pino({ level: 'silent' }) }));
    receiver = await startReceiver(config, { audit: new MemoryAudit(), local: () => ({ startupMs: 300 }), logger: pino({ level: 'silent' }) });
    const endpoints = (service: string, urls: string[]) =>
      endpointTargetGroups(
        urls.map((url, i) => ({
          address: url.replace('http://', ''),
          namespace: 'shadowscale',
          service,
          serviceLabels: { 'app.kubernetes.io/name': service },
          port: 'http',
          pod: `${service}-6d8f9b7c4-abcd${i}`,
          container: service.replace('shadowscale-', ''),
        })),
      );
    writeTargetsFile(join(dir, 'shadowscale-adapter.json'), endpoints('shadowscale-adapter', adapters.map((a) => a.httpUrl)));
    writeTargetsFile(join(dir, 'shadowscale-receiver.json'), endpoints('shadowscale-receiver', [receiver.url]));
    await until('both adapters scraped and fitted', async () => (await prom.query('count(shadowscale_forecast_load{quantile="0.975"})'))[0]?.value === 2, 60_000, 500);
  }, 120_000);

  afterAll(async () => {
    for (const a of adapters) await a.stop();
    await receiver?.stop();
    await prometheus?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the workload namespace on the adapter series (honorLabels) next to the Operator target labels', async () => {
    const raw = await prom.query('shadowscale_forecast_load{quantile="0.975"}');
    expect(raw.map((s) => s.labels.namespace)).toEqual(['shop', 'shop']);
    expect(new Set(raw.map((s) => s.labels.pod)).size).toBe(2);
    for (const s of raw) expect(s.labels).toMatchObject({ workload: 'checkout', job: 'shadowscale-adapter', service: 'shadowscale-adapter', endpoint: 'http', container: 'adapter' });
    const roles = await until('receiver roles', async () => (await prom.query('shadowscale_workload_serving_share{deployment="checkout"}'))[0]);
    expect(roles.labels).toMatchObject({ namespace: 'shop', workload: 'checkout', job: 'shadowscale-receiver' });
  });

  it('evaluates every rule without an error, and reduces every adapter series to one per workload', async () => {
    await until('the KPI group evaluated on both adapters', async () => (await prom.query('shadowscale:forecast_load:max{quantile="0.975"}')).length === 1, 30_000, 500);
    await new Promise((r) => setTimeout(r, 3000));
    const res = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as { data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const broken = res.data.groups.flatMap((g) => g.rules.filter((r) => r.health !== 'ok').map((r) => `${g.name}/${r.name}: ${r.health} ${r.lastError ?? ''}`));
    expect(broken).toEqual([]);
    for (const series of ['shadowscale:forecast_load:max{quantile="0.5"}', 'shadowscale:observed_load:max', 'shadowscale:forecast_age_seconds:max', 'shadowscale:capacity_per_replica:max', 'shadowscale:bound:latency_p99_seconds']) {
      const found = await prom.query(series);
      expect(found.map((s) => [s.labels.namespace, s.labels.workload]), series).toEqual([['shop', 'checkout']]);
    }
    expect((await prom.query('shadowscale:bound:latency_p99_seconds'))[0].value).toBe(0.8);
    expect((await prom.query('shadowscale:deployment_role:info{role="primary"}'))[0].labels.deployment).toBe('checkout');
  });

  it('fires a forecast alert once, with the workload namespace the receiver acts on', async () => {
    const alerts = await until('PredictedOverload', async () => {
      const found = await prom.query('ALERTS{alertname="ShadowscalePredictedOverload"}');
      return found.length > 0 ? found : undefined;
    }, 90_000, 1000);
    expect(alerts!).toHaveLength(1);
    expect(alerts![0].labels).toMatchObject({ namespace: 'shop', workload: 'checkout', shadowscale_action: 'prescale' });
  }, 120_000);
});
