/**
 * Synthetic warm-up traffic: the primary's request mix read from a real Prometheus (counters by
 * method and path), replayed against a shadow (a local HTTP server) only on allow-listed methods and
 * paths, at the share of the primary's rate and never above maxRps; a recorded sample when Prometheus
 * has no mix.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PrometheusClient } from '../platform/prometheus.ts';
import { parseConfig, type WorkloadConfig } from '../core/config.ts';
import { shiftToNow } from '../platform/runtime/openmetrics.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';
import { allowed, parseSample, WarmupGenerator, warmupMetrics } from './warmup.ts';

/** Per-second rates at the primary, by method and path. */
const MIX = [
  { method: 'GET', path: '/products', rate: 50 },
  { method: 'GET', path: '/products/42', rate: 10 },
  { method: 'GET', path: '/cart', rate: 20 },
  { method: 'POST', path: '/checkout', rate: 15 },
  { method: 'GET', path: '/admin', rate: 5 },
];

let prometheus: PrometheusServer;
let shadow: http.Server;
let shadowUrl: string;
const hits: Array<{ method: string; path: string; at: number; warmup: boolean }> = [];

function workload(warmup: Record<string, unknown>): WorkloadConfig {
  const config = parseConfig(JSON.stringify({
    prometheus: { url: 'http://127.0.0.1:9' },
    workloads: [
      {
        name: 'checkout',
        namespace: 'shop',
        load: 'sum(rate(http_requests_total[1m]))',
        capacityPerReplica: 10,
        primary: { name: 'checkout', maxReplicas: 10 },
        shadow: { name: 'checkout-shadow', maxReplicas: 3, mirrorPercent: 10, warmup: { enabled: true, target: shadowUrl, ...warmup } },
      },
    ],
  }));
  return config.workloads[0];
}

beforeAll(async () => {
  const minutes = 30;
  const timestamps = shiftToNow(Array.from({ length: minutes }, (_, i) => i * 60), 30);
  prometheus = await startPrometheus({
    history: [
      ...MIX.map((m) => ({
        // A counter family `http_requests`: its samples are http_requests_total, labelled as a scrape labels them.
        name: 'http_requests',
        type: 'counter' as const,
        labels: { namespace: 'shop', deployment: 'checkout', method: m.method, path: m.path, code: '200' },
        timestamps,
        values: timestamps.map((_, i) => m.rate * 60 * i),
      })),
      // The standby's traffic, which the mix leaves out, and the roles as the rules record them.
      { name: 'http_requests', type: 'counter' as const, labels: { namespace: 'shop', deployment: 'checkout-shadow', method: 'GET', path: '/cart', code: '200' }, timestamps, values: timestamps.map((_, i) => 1000 * 60 * i) },
      { name: 'shadowscale:deployment_role:info', labels: { namespace: 'shop', workload: 'checkout', deployment: 'checkout', role: 'primary' }, timestamps, values: timestamps.map(() => 1) },
      { name: 'shadowscale:deployment_role:info', labels: { namespace: 'shop', workload: 'checkout', deployment: 'checkout-shadow', role: 'shadow' }, timestamps, values: timestamps.map(() => 1) },
    ],
  });
  shadow = http.createServer((req, res) => {
    hits.push({ method: req.method ?? '', path: req.url ?? '', at: Date.now(), warmup: req.headers['x-shadowscale-warmup'] === '1' });
    res.end('ok');
  });
  await new Promise<void>((r) => shadow.listen(0, '127.0.0.1', r));
  shadowUrl = `http://127.0.0.1:${(shadow.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await prometheus?.stop();
  await new Promise<void>((r) => (shadow ? shadow.close(() => r()) : r()));
});

async function run(g: WarmupGenerator, ms: number) {
  hits.length = 0;
  await g.start();
  const from = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  g.stop();
  await new Promise((r) => setTimeout(r, 100));
  return { hits: [...hits], seconds: (Date.now() - from) / 1000 };
}

describe('synthetic warm-up traffic', () => {
  it('replays only allow-listed requests of the primary mix, at the share of its rate', async () => {
    const w = workload({ paths: ['/products(/.*)?', '/cart'], maxRps: 50, share: 0.05 });
    const g = new WarmupGenerator(w, w.shadow!.warmup!, new PrometheusClient({ url: prometheus.url, timeoutSeconds: 5 }), warmupMetrics(new Registry()));
    // Allowed at the primary: 50 + 10 + 20 = 80/s, as Prometheus's rate() sees it at the edge of the data.
    const [allowedRate] = await new PrometheusClient({ url: prometheus.url, timeoutSeconds: 5 }).query('sum(rate(http_requests_total{deployment="checkout",method="GET",path=~"/products.*|/cart"}[5m]))');
    expect(allowedRate.value).toBeGreaterThan(60);
    const { hits: got, seconds } = await run(g, 3000);
    const expected = 0.05 * allowedRate.value;
    expect(Math.abs(g.targetRps - expected) / expected).toBeLessThan(0.1);
    expect(got.length).toBeGreaterThanOrEqual(Math.floor(g.targetRps * seconds) - 2);
    expect(got.length).toBeLessThanOrEqual(Math.ceil(g.targetRps * seconds) + 1);
    expect(got.every((h) => h.method === 'GET' && /^\/(products(\/42)?|cart)$/.test(h.path) && h.warmup)).toBe(true);
  });

  it('never goes above maxRps', async () => {
    const w = workload({ paths: ['/.*'], methods: ['GET'], maxRps: 10, share: 1 });
    const g = new WarmupGenerator(w, w.shadow!.warmup!, new PrometheusClient({ url: prometheus.url, timeoutSeconds: 5 }), warmupMetrics(new Registry()));
    const { hits: got, seconds } = await run(g, 2000);
    expect(g.targetRps).toBe(10);
    expect(got.length).toBeLessThanOrEqual(Math.ceil(10 * seconds) + 1);
    expect(got.length).toBeGreaterThanOrEqual(Math.floor(10 * seconds) - 3);
    expect(got.every((h) => h.method === 'GET' && ['/products', '/products/42', '/cart', '/admin'].includes(h.path))).toBe(true);
  });

  it('falls back to a recorded sample when Prometheus has no mix, and sends nothing unless active', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shadowscale-warmup-'));
    const sample = join(dir, 'sample.txt');
    writeFileSync(sample, '# recorded at the gateway\nGET /products\nGET /products\nDELETE /cart/1\nGET /search?q=x\n');
    const w = workload({ paths: ['/products', '/search.*'], maxRps: 8, sample, mix: 'sum by (method, path) (rate(no_such_metric[5m]))' });
    let active = false;
    const g = new WarmupGenerator(w, w.shadow!.warmup!, new PrometheusClient({ url: prometheus.url, timeoutSeconds: 5 }), warmupMetrics(new Registry()), undefined, () => active);
    const idle = await run(g, 700);
    expect(idle.hits).toEqual([]);
    active = true;
    const g2 = new WarmupGenerator(w, w.shadow!.warmup!, new PrometheusClient({ url: prometheus.url, timeoutSeconds: 5 }), warmupMetrics(new Registry()), undefined, () => active);
    const { hits: got } = await run(g2, 1500);
    expect(g2.targetRps).toBe(8);
    expect(got.length).toBeGreaterThan(5);
    expect(new Set(got.map((h) => `${h.method} ${h.path}`))).toEqual(new Set(['GET /products', 'GET /search?q=x']));
  });

  it('rejects bad settings and bad samples by name', () => {
    expect(() => workload({ paths: [] })).toThrow(/warmup.*an enabled warmup needs target and at least one allowed path/s);
    expect(() => workload({ paths: ['(unclosed'] })).toThrow(/warmup\.paths\[0\]: expected a regular expression/);
    expect(() => parseSample('GET /a\nfetch everything\n', 'sample.txt')).toThrow('sample.txt:2: expected "METHOD /path", got "fetch everything"');
    expect(allowed([{ method: 'get', path: '/a', rate: 1 }], { methods: ['GET'], paths: ['/a'] })).toHaveLength(1);
    expect(allowed([{ method: 'GET', path: '/ab', rate: 1 }], { methods: ['GET'], paths: ['/a'] })).toHaveLength(0);
  });
});
