/**
 * End to end with real components: Prometheus evaluates the project's KPI and alert rules on scraped
 * series, Alertmanager (configured from the example alertmanager/alertmanager.yml, pointed at loopback)
 * delivers the webhooks, and the receiver acts on the local target (sample-service processes behind the
 * mirroring proxy). Predicted overload → prescale; primary degraded with a ready shadow → promotion;
 * everything resolves → revert to the planned state.
 *
 * Two adaptations keep it to seconds, and only these: the alert rules' `for:` durations are cut to 1 s
 * in a copy of the rule files (expressions untouched), and the exporter below serves the normalised
 * input series (what a traffic mapping in recording-rules/inputs records) and the adapter's exported
 * series directly, so the test sets them instead of waiting for 5-minute rates to move.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MemoryAudit } from '../alertmanager/audit.ts';
import { startReceiver, type RunningReceiver } from '../alertmanager/service.ts';
import { PrometheusSignals } from '../alertmanager/signals.ts';
import { prometheusClientFromConfig } from '../platform/prometheus.ts';
import { parseConfig } from '../core/config.ts';
import { exampleAlertmanagerConfig, startAlertmanager, type AlertmanagerServer } from '../platform/runtime/alertmanager.ts';
import { withFor } from '../demo/rules.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';
import { until } from './harness/wait.ts';

const ROOT = join(import.meta.dirname, '..');
const TOKEN = 'e2e-token-6f1d9a';

/** What the exporter serves, by series; changed by the test. */
const series = {
  requests: { primary: 100, shadow: 10 },
  errors: { primary: 0, shadow: 0 },
  p99: { primary: 0.08, shadow: 0.1 },
  ready: { primary: 2, shadow: 1 },
  forecastUpper95: 60,
  plan: { desired: 4, pool: 3 },
};

function exposition(): string {
  const l = (role?: string) => `{namespace="shop",workload="checkout"${role ? `,role="${role}"` : ''}}`;
  const lines: string[] = [];
  for (const role of ['primary', 'shadow'] as const) {
    lines.push(`shadowscale:requests:rate5m${l(role)} ${series.requests[role]}`);
    lines.push(`shadowscale:requests:rate1m${l(role)} ${series.requests[role]}`);
    lines.push(`shadowscale:request_errors:rate5m${l(role)} ${series.errors[role]}`);
    lines.push(`shadowscale:request_latency_seconds:p99_rate5m${l(role)} ${series.p99[role]}`);
    lines.push(`shadowscale:ready_replicas:count${l(role)} ${series.ready[role]}`);
  }
  // As the adapter exports them.
  lines.push(`shadowscale_shadow_mirror_percent${l()} 10`);
  lines.push(`shadowscale_capacity_per_replica${l()} 50`);
  for (const [q, v] of [['0.5', series.forecastUpper95 * 0.8], ['0.975', series.forecastUpper95]] as const) {
    lines.push(`shadowscale_forecast_load{namespace="shop",workload="checkout",quantile="${q}"} ${v}`);
  }
  // The configuration's bounds (the rules take no default for them).
  for (const [bound, v] of Object.entries({ latency_p99_seconds: 0.5, error_ratio: 0.01, min_request_rate: 1, shadow_latency_ratio_max: 1.5, shadow_error_ratio_diff_max: 0.01, mirror_coverage_tolerance: 0.5, anomaly_zscore: 3, forecast_ttl_seconds: 600 })) {
    lines.push(`shadowscale_workload_bound{namespace="shop",workload="checkout",bound="${bound}"} ${v}`);
  }
  lines.push(`shadowscale_forecast_desired_replicas${l()} ${series.plan.desired}`);
  lines.push(`shadowscale_shadow_pool_size${l()} ${series.plan.pool}`);
  return `${lines.join('\n')}\n`;
}

/** A copy of a rule file with every alert's `for` cut to 1 s. */
function fastRules(dir: string, file: string): string {
  const out = join(dir, file);
  writeFileSync(out, withFor(readFileSync(join(ROOT, 'recording-rules', file), 'utf8'), '1s'));
  return out;
}

/** The example Alertmanager configuration, pointed at the receiver on loopback with short timers. */
function alertmanagerConfig(dir: string, receiverUrl: string): string {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  return exampleAlertmanagerConfig(receiverUrl, tokenFile, '1s');
}

describe('Prometheus → Alertmanager → receiver → local target', () => {
  let dir: string;
  let exporter: http.Server;
  let prometheus: PrometheusServer;
  let alertmanager: AlertmanagerServer;
  let running: RunningReceiver;
  const audit = new MemoryAudit();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shadowscale-receiver-e2e-'));
    exporter = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition()));
    await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));

    const config = parseConfig(`
prometheus: { url: http://127.0.0.1:9 }
receiver: { listen: "127.0.0.1:0", tokenEnv: RECEIVER_TOKEN, target: local, cooldown: 2s, minHold: 1s, drain: 1s, resync: 1s, stateFile: ${join(dir, 'state.json')} }
workloads:
  - name: checkout
    namespace: shop
    load: sum(shadowscale:requests:rate1m{namespace="shop",workload="checkout",role="primary"})
    capacityPerReplica: 50
    primary: { name: checkout, minReplicas: 2, maxReplicas: 6 }
    shadow: { name: checkout-shadow, minReplicas: 1, maxReplicas: 4, mirrorPercent: 10 }
`);
    // Prometheus starts last (it needs Alertmanager's address); the receiver reads it through the
    // real Prometheus client, built on each query from the configuration patched below.
    const signals = new PrometheusSignals({ query: (...args) => prometheusClientFromConfig(config).query(...args) });
    running = await startReceiver(config, { env: { RECEIVER_TOKEN: TOKEN }, audit, signals, local: () => ({ startupMs: 300 }), logger: pino({ level: 'silent' }) });
    alertmanager = await startAlertmanager(alertmanagerConfig(dir, running.url));
    prometheus = await startPrometheus({
      ruleFiles: [fastRules(dir, 'kpis.rules.yml'), fastRules(dir, 'alerts.rules.yml')],
      scrapeTargets: [{ job: 'inputs', target: `127.0.0.1:${(exporter.address() as AddressInfo).port}`, metricRelabelConfigs: [{ action: 'labeldrop', regex: 'instance|job' }] }],
      alertmanagers: [alertmanager.address],
      flags: ['--rules.alert.resend-delay=1s'],
    });
    config.prometheus.url = prometheus.url;
  }, 120_000);

  afterAll(async () => {
    await running?.stop();
    await prometheus?.stop();
    await alertmanager?.stop();
    exporter?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prescales when the forecast exceeds ready capacity', async () => {
    const local = running.localClusters.get('shop/checkout')!;
    series.forecastUpper95 = 400; // > 2 ready primaries × 50
    await until('floor and pool raised', () => local.autoscaler.minReplicas === 4 && local.pool('checkout-shadow').spec === 3, 45_000);
    expect(local.pool('checkout').spec).toBe(4);
    const hook = audit.events.find((e) => e.event === 'webhook' && e.recorded > 0);
    expect(hook).toBeDefined();
    const decision = audit.events.find((e) => e.event === 'decision' && e.reasons.some((r) => r.includes('ShadowscalePredictedOverload')));
    expect(decision).toBeDefined();
  });

  it('promotes the ready shadow when the primary degrades', async () => {
    const local = running.localClusters.get('shop/checkout')!;
    series.p99.primary = 2; // beyond the 0.5 s SLO
    await until('swapped', () => local.proxy.state.active === 'checkout-shadow', 45_000);
    const servedBy = (await fetch(`http://${local.proxy.address}/`)).headers.get('x-served-by');
    expect(servedBy).toMatch(/^checkout-shadow\//);
    await until('old primary is the shadow pool', () => local.autoscaler.target === 'checkout-shadow' && local.proxy.state.mirror === 'checkout');
    const promoted = audit.events.find((e) => e.event === 'decision' && e.reasons.some((r) => r.startsWith('promote: ShadowscalePrimaryDegraded(latency)')));
    expect(promoted).toBeDefined();
  });

  it('reverts to the planned state when the alerts resolve', async () => {
    const local = running.localClusters.get('shop/checkout')!;
    series.p99.primary = 0.08;
    series.forecastUpper95 = 60;
    await until('reverted', () => local.proxy.state.active === 'checkout' && local.autoscaler.target === 'checkout', 45_000);
    await until('planned floor and pool', () => local.autoscaler.minReplicas === 2 && local.pool('checkout-shadow').spec === 1);
    const resolved = audit.events.filter((e) => e.event === 'webhook' && e.status === 'resolved');
    expect(resolved.length).toBeGreaterThan(0);
    // The state file holds the memory a restarted receiver would start from.
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(state['shop/checkout'].swapped).toBe(false);
    expect(state['shop/checkout'].roleChanges).toHaveLength(2);
  });
});
