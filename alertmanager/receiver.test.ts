/**
 * The receiver over HTTP acting on the local target (real processes behind the mirroring proxy):
 * authentication, validation, idempotency, prescale and a promotion that moves real traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseConfig } from '../core/config.ts';
import { MemoryAudit } from './audit.ts';
import { startReceiver, type RunningReceiver } from './service.ts';
import type { SignalSource } from './signals.ts';
import { InMemoryStore } from './store.ts';
import { until } from '../test/harness/wait.ts';

const STARTED = new Date().toISOString();
const TOKEN = 'test-token-0123456789';
const config = parseConfig(`
prometheus: { url: http://127.0.0.1:1 }
receiver: { listen: "127.0.0.1:0", tokenEnv: RECEIVER_TOKEN, target: local, maxBodyBytes: 4096, cooldown: 1s, minHold: 1s, resync: 1h }
workloads:
  - name: checkout
    namespace: shop
    capacityPerReplica: 50
    primary: { name: checkout, minReplicas: 2, maxReplicas: 6 }
    shadow: { name: checkout-shadow, minReplicas: 1, maxReplicas: 3, mirrorPercent: 50 }
`);

/** Readiness and plan as Prometheus would answer them; the end-to-end test reads the real ones. */
const readiness = { ready: false };
const signals: SignalSource = { shadowReady: async () => readiness.ready, plan: async () => ({ desiredReplicas: 3, shadowPoolSize: 2 }) };

const alert = (fingerprint: string, action: string, status: 'firing' | 'resolved', alertname: string) => ({
  status,
  labels: { alertname, namespace: 'shop', workload: 'checkout', shadowscale_action: action, severity: 'warning' },
  annotations: { summary: 'x' },
  startsAt: STARTED,
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus/graph',
  fingerprint,
});
const payload = (alerts: ReturnType<typeof alert>[]) => ({
  version: '4',
  groupKey: '{}:{namespace="shop", workload="checkout"}',
  truncatedAlerts: 0,
  receiver: 'shadowscale',
  status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
  groupLabels: { namespace: 'shop', workload: 'checkout' },
  commonLabels: {},
  commonAnnotations: {},
  externalURL: 'http://alertmanager:9093',
  alerts,
  aFieldFromTheFuture: { ignored: true },
});

let running: RunningReceiver;
const audit = new MemoryAudit();
const store = new InMemoryStore();

/** shadowscale_workload_serving_share by deployment, as Prometheus would scrape it from /metrics. */
async function servingShares(): Promise<Record<string, number>> {
  const text = await (await fetch(`${running.url}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^shadowscale_workload_serving_share\{[^}]*deployment="([^"]+)"[^}]*\} (\S+)$/gm)].map((m) => [m[1], Number(m[2])]));
}

async function post(body: unknown, token: string | null = TOKEN): Promise<{ status: number; body: any }> {
  const res = await fetch(`${running.url}/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  running = await startReceiver(config, {
    env: { RECEIVER_TOKEN: TOKEN },
    audit,
    store,
    signals,
    local: () => ({ startupMs: 300 }),
    logger: (await import('pino')).pino({ level: 'silent' }),
  });
});
afterAll(async () => {
  await running?.stop();
});

describe('the webhook endpoint', () => {
  it('answers 401 without a valid bearer token, and does nothing', async () => {
    expect((await post(payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]), null)).status).toBe(401);
    expect((await post(payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]), 'wrong')).status).toBe(401);
    expect(audit.events.filter((e) => e.event === 'webhook')).toHaveLength(0);
  });

  it('answers 400 naming the bad field, and 413 past the size limit', async () => {
    const bad = payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]);
    (bad.alerts[0] as any).status = 'burning';
    const res = await post(bad);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/alerts\[0\]\.status/);
    expect((await post('{"version": "4", ')).status).toBe(400);
    expect((await post({ ...payload([]), version: '3' })).body.error).toMatch(/version/);
    expect((await post({ ...payload([]), pad: 'x'.repeat(5000) })).status).toBe(413);
  });
});

describe('acting on the local target', () => {
  it('prescales once however often the same webhook arrives', async () => {
    const body = payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]);
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(body)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((a) => a.body.recorded).sort()).toEqual([0, 0, 0, 0, 1]);
    await running.receiver.idle();
    const local = running.localClusters.get('shop/checkout')!;
    await until('pool and floor raised', () => local.pool('checkout-shadow').spec === 2 && local.autoscaler.minReplicas === 3);
    expect(local.pool('checkout').spec).toBe(3);
    const actions = audit.events.filter((e) => e.event === 'action');
    expect(actions.map((a) => (a as any).step.kind)).toEqual(['autoscaler', 'scale']);
    // Once more, sequentially: nothing new.
    expect((await post(body)).body.recorded).toBe(0);
    await running.receiver.idle();
    expect(audit.events.filter((e) => e.event === 'action')).toHaveLength(2);
  });

  it('mirrors an exact share of the requests to the shadow set, whose processes serve the copies', async () => {
    const local = running.localClusters.get('shop/checkout')!;
    await until('both sets ready', () => local.pool('checkout').ready >= 2 && local.pool('checkout-shadow').ready >= 1);
    const requestsOf = async (set: string) => {
      let total = 0;
      for (const port of local.pool(set).readyPorts()) {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        for (const m of text.matchAll(/^http_requests_total\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
      }
      return total;
    };
    const [served, mirrored, shadowBefore] = [local.proxy.served, local.proxy.mirrored, await requestsOf('checkout-shadow')];
    for (let i = 0; i < 20; i++) expect((await fetch(`http://${local.proxy.address}/`)).status).toBe(200);
    expect(local.proxy.served - served).toBe(20);
    expect(local.proxy.mirrored - mirrored).toBe(10); // mirrorPercent 50
    await until('copies answered by the shadows', async () => (await requestsOf('checkout-shadow')) - shadowBefore === 10, 5000);
  });

  it('promotes a ready shadow: traffic moves to it, the old primary becomes the mirror target', async () => {
    const local = running.localClusters.get('shop/checkout')!;
    const servedBy = async () => (await fetch(`http://${local.proxy.address}/`)).headers.get('x-served-by') ?? '';
    await until('primary ready', () => local.pool('checkout').ready >= 2);
    expect(await servedBy()).toMatch(/^checkout\//);

    readiness.ready = false;
    await post(payload([alert('p1', 'promote', 'firing', 'ShadowscalePrimaryDegraded')]));
    await running.receiver.idle();
    expect(local.proxy.state.active).toBe('checkout'); // not ready: no promotion
    expect(running.receiver.desired('shop/checkout')!.reasons.join()).toMatch(/not ready/);

    expect(await servingShares()).toEqual({ checkout: 1, 'checkout-shadow': 0 });

    readiness.ready = true;
    await running.receiver.reconcile('shop/checkout');
    await until('swapped', () => local.proxy.state.active === 'checkout-shadow', 30_000);
    // The role series changed in the step that moved the traffic, and is remembered with the alerts.
    expect(await servingShares()).toEqual({ checkout: 0, 'checkout-shadow': 1 });
    expect((await store.load('shop/checkout')).serving).toBe('checkout-shadow');
    // The incoming set was grown to the serving set's size before the switch.
    expect(local.pool('checkout-shadow').ready).toBeGreaterThanOrEqual(3);
    expect(await servedBy()).toMatch(/^checkout-shadow\//);
    await until('old primary shrunk to the pool', () => local.pool('checkout').spec === 2 && local.autoscaler.target === 'checkout-shadow');
    expect(local.proxy.state).toEqual({ active: 'checkout-shadow', mirror: 'checkout', mirrorPercent: 50 });
    expect(local.events.map((e) => e.reason)).toContain('ShadowscalePromoted');
  });

  it('reverts after the alerts resolve and the cooldown passes', async () => {
    const local = running.localClusters.get('shop/checkout')!;
    await post(payload([alert('p1', 'promote', 'resolved', 'ShadowscalePrimaryDegraded'), alert('a1', 'prescale', 'resolved', 'ShadowscaleLoadAnomaly')]));
    await new Promise((r) => setTimeout(r, 1100));
    // The old primary, standing by, is not ready: the promoted shadow keeps serving.
    readiness.ready = false;
    await running.receiver.reconcile('shop/checkout');
    expect(local.proxy.state.active).toBe('checkout-shadow');
    expect(running.receiver.desired('shop/checkout')!.reasons.join()).toMatch(/checkout, standing by, is not ready to serve/);
    readiness.ready = true;
    await running.receiver.reconcile('shop/checkout');
    await until('reverted', () => local.proxy.state.active === 'checkout', 30_000);
    expect(await servingShares()).toEqual({ checkout: 1, 'checkout-shadow': 0 });
    await until('planned floor and pool', () => local.autoscaler.target === 'checkout' && local.autoscaler.minReplicas === 2 && local.pool('checkout-shadow').spec === 1);
  });

  it('restarts a degraded shadow: its processes are replaced once, while the primary keeps serving', async () => {
    const local = running.localClusters.get('shop/checkout')!;
    await until('shadow ready', () => local.pool('checkout-shadow').ready === 1);
    const before = local.pool('checkout-shadow').readyPorts();
    const primaries = local.pool('checkout').readyPorts();
    const body = payload([alert('d1', 'restart', 'firing', 'ShadowscaleShadowDegraded')]);
    await post(body);
    await running.receiver.idle();
    await post(body);
    await running.receiver.idle();
    await until('shadow replaced', () => local.pool('checkout-shadow').ready === 1 && !before.includes(local.pool('checkout-shadow').readyPorts()[0]));
    const after = local.pool('checkout-shadow').readyPorts();
    await running.receiver.reconcile('shop/checkout');
    expect(local.pool('checkout-shadow').readyPorts()).toEqual(after);
    expect(local.pool('checkout').readyPorts()).toEqual(primaries);
    expect(audit.events.filter((e) => e.event === 'action' && (e as any).step?.kind === 'restart')).toHaveLength(1);
  });
});
