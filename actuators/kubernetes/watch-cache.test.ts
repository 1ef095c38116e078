/**
 * The receiver observing from informers, against the in-test API server's list and watch: no read of
 * the sets or the HPA before a webhook's first write; a write observed at its own version while the
 * watch lags; a stale cache costing a 409 and a read, never a lost update; a watch that ends, expires
 * or is refused.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';

import { parseConfig } from '../../core/config.ts';
import { FakeKubeApi, type RecordedRequest } from '../../test/harness/kube-api.ts';
import { AutoscalerControllers } from '../../test/harness/kube-autoscalers.ts';
import { MemoryAudit } from '../../alertmanager/audit.ts';
import { startReceiver, type RunningReceiver } from '../../alertmanager/service.ts';
import type { SignalSource } from '../../alertmanager/signals.ts';
import { createKubeApis, kubeConfigFor, type KubeApis } from '../../platform/kubernetes.ts';
import { until } from '../../test/harness/wait.ts';
import { olderVersion, WatchCache } from './watch-cache.ts';

const NS = 'shop';
const DEPLOY = `/apis/apps/v1/namespaces/${NS}/deployments`;
const HPAS = `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers`;
const HPA = `${HPAS}/checkout`;
const SHADOW = `${DEPLOY}/checkout-shadow`;

const config = parseConfig(`
prometheus: { url: http://127.0.0.1:9 }
receiver:
  listen: "127.0.0.1:0"
  cooldown: 1s
  resync: 1h
  kubernetes: { requestTimeout: 2s, retries: 3 }
  leaderElection: { namespace: shadowscale }
workloads:
  - name: checkout
    namespace: shop
    load: up
    capacityPerReplica: 50
    primary: { name: checkout, minReplicas: 2, maxReplicas: 20 }
    shadow: { name: checkout-shadow, minReplicas: 1, maxReplicas: 5 }
    autoscaler: { kind: HorizontalPodAutoscaler }
`);
const signals: SignalSource = { shadowReady: async () => true, plan: async () => ({ desiredReplicas: 8, shadowPoolSize: 3 }) };
const prescale = (fingerprint: string, status: 'firing' | 'resolved' = 'firing') => ({
  version: '4',
  groupKey: 'g',
  status,
  receiver: 'shadowscale',
  alerts: [{ status, labels: { alertname: 'ShadowscaleLoadAnomaly', namespace: NS, workload: 'checkout', shadowscale_action: 'prescale' }, annotations: {}, startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z', fingerprint }],
});

let api: FakeKubeApi;
let running: RunningReceiver | undefined;
const audit = new MemoryAudit();
const reads = (rs: RecordedRequest[]) => rs.filter((r) => r.method === 'GET' && !r.watch && (r.path.startsWith(`${DEPLOY}/`) || r.path.startsWith(`${HPAS}/`)));
const workloadWrites = (rs: RecordedRequest[]) => rs.filter((r) => r.method === 'PATCH' && (r.path.startsWith(`${DEPLOY}/`) || r.path.startsWith(`${HPAS}/`)));

async function post(body: unknown): Promise<number> {
  const res = await fetch(`${running!.url}/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.status;
}

beforeEach(async () => {
  api = new FakeKubeApi();
  await api.start();
  api.deployment(NS, 'checkout', 6);
  api.deployment(NS, 'checkout-shadow', 1);
  api.hpa(NS, 'checkout', 'checkout', 2, 20, { metrics: [{ type: 'External', external: { metric: { name: 'shadowscale_desired_replicas' }, target: { type: 'AverageValue', averageValue: '1' } } }] });
  // The HPA controller rewrites the HPA's status and owns the primary's replicas, as on a cluster.
  new AutoscalerControllers(api);
  audit.events.length = 0;
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await api.stop();
});

async function receiver(): Promise<void> {
  running = await startReceiver(config, { kubeConfig: kubeConfigFor(api.url), signals, audit, logger: pino({ level: 'silent' }), noResync: true });
  // Started with the receiver for the configured workload: one list and one watch of each kind.
  await until('informers watching', () => api.watching === 2);
}

describe('the receiver observing from informers', () => {
  it('lists and watches the workload namespace once, and reaches its first write without reading the sets or the HPA', async () => {
    await receiver();
    const lists = api.requests.filter((r) => r.method === 'GET' && !r.watch && (r.path === DEPLOY || r.path === HPAS));
    expect(lists.map((r) => r.path).sort()).toEqual([DEPLOY, HPAS]);
    const from = api.requests.length;
    expect(await post(prescale('a1'))).toBe(200);
    await running!.receiver.idle();
    const during = api.requests.slice(from);
    const firstWrite = during.findIndex((r) => r.method === 'PATCH');
    expect(firstWrite).toBeGreaterThan(0);
    expect(reads(during.slice(0, firstWrite))).toEqual([]);
    expect(workloadWrites(during).map((r) => r.path)).toEqual([HPA, `${SHADOW}/scale`]);
    expect(api.get(HPA).spec.minReplicas).toBe(8);
    expect(api.get(SHADOW).spec.replicas).toBe(3);
    expect(audit.events.filter((e) => e.event === 'error')).toEqual([]);
  });

  it('observes its own writes as they left the objects while the watch lags, so it never writes the same step twice', async () => {
    await receiver();
    api.watchDelayMs = 400;
    const from = api.requests.length;
    expect(await post(prescale('a1'))).toBe(200);
    await running!.receiver.idle();
    const during = api.requests.slice(from);
    // One write each, and nothing read: after each write the object is observed as the write left it
    // (the HPA as the PATCH answered it, the shadow as observed with its new replicas), not as the
    // lagging cache has it, which would repeat the step.
    expect(workloadWrites(during).map((r) => r.path)).toEqual([HPA, `${SHADOW}/scale`]);
    expect(reads(during)).toEqual([]);
    expect(api.get(SHADOW).spec.replicas).toBe(3);
    expect(audit.events.filter((e) => e.event === 'error')).toEqual([]);
    // Once the watch has caught up, the cache answers again: the next reconciliation reads nothing.
    await new Promise((r) => setTimeout(r, 600));
    const later = api.requests.length;
    await running!.receiver.reconcile(`${NS}/checkout`);
    expect(reads(api.requests.slice(later))).toEqual([]);
  });

  it('decides on a stale cache at the cost of a 409 and a read, then on what it read', async () => {
    await receiver();
    expect(await post(prescale('a1'))).toBe(200);
    await running!.receiver.idle();
    expect(await post(prescale('a1', 'resolved'))).toBe(200);
    await running!.receiver.idle();
    // Past the cooldown, someone grows the shadow to 4 while the watch is slow to say so: the cache still has 3.
    await new Promise((r) => setTimeout(r, 1200));
    expect(api.get(SHADOW).spec.replicas).toBe(3);
    api.watchDelayMs = 1500;
    api.setReplicas(SHADOW, 4);
    const from = api.requests.length;
    await running!.receiver.reconcile(`${NS}/checkout`);
    const during = api.requests.slice(from);
    // The shrink computed from 3 is written on the cached version: refused (409), the Scale read, the
    // step not taken (the shadow was not at 3), the shadow read from the API, and the shrink taken from 4.
    const scales = during.filter((r) => r.method === 'PATCH' && r.path === `${SHADOW}/scale`);
    expect(scales.map((r) => r.body.spec.replicas)).toEqual([1, 1]);
    expect(reads(during).map((r) => r.path)).toEqual(expect.arrayContaining([`${SHADOW}/scale`, SHADOW]));
    expect(audit.events.some((e) => e.event === 'wait' && /not taken, .* has 4 replicas, not the 3/.test((e as { why: string }).why))).toBe(true);
    expect(api.get(SHADOW).spec.replicas).toBe(1);
    expect(api.get(HPA).spec.minReplicas).toBe(2);
    expect(audit.events.filter((e) => e.event === 'error')).toEqual([]);
  });
});

describe('WatchCache', () => {
  let apis: KubeApis;
  let cache: WatchCache;
  const errors: Array<string | undefined> = [];
  const replicas = () => cache.get<{ spec: { replicas: number } }>('Deployment', NS, 'checkout-shadow')?.spec.replicas;
  beforeEach(() => {
    apis = createKubeApis(kubeConfigFor(api.url), { timeoutMs: 2000, retries: 1 });
    errors.length = 0;
    cache = new WatchCache(apis, kubeConfigFor(api.url), { restartMs: 50, onError: (what, error) => errors.push(error ? `${what}: ${error.message}` : `${what}: ok`) });
  });
  afterEach(async () => {
    await cache.stop();
    apis.http?.close();
  });

  it('answers nothing until listed, then follows the watch; a watch the server ends is resumed from its version without a new list', async () => {
    expect(replicas()).toBeUndefined();
    await until('listed', () => replicas() === 1);
    api.setReplicas(SHADOW, 2);
    await until('watched', () => replicas() === 2);
    api.closeWatches();
    api.setReplicas(SHADOW, 3);
    await until('watched again', () => replicas() === 3);
    const lists = api.requests.filter((r) => r.method === 'GET' && !r.watch && r.path === DEPLOY);
    const watches = api.requests.filter((r) => r.watch && r.path === DEPLOY);
    expect(lists).toHaveLength(1);
    expect(watches.length).toBeGreaterThanOrEqual(2);
    expect(watches.at(-1)!.at).toBeGreaterThan(lists[0].at);
    api.remove(SHADOW);
    await until('deleted', () => cache.get('Deployment', NS, 'checkout-shadow') === undefined && cache.status().live === 1);
    expect(errors).toEqual([]);
  });

  it('lists again when its version has expired from the server’s history', async () => {
    api.watchHistory = 5;
    await until('listed', () => replicas() === 1);
    api.closeWatches();
    // More changes than the server keeps, before the informer can watch again.
    for (let i = 2; i <= 12; i++) api.setReplicas(SHADOW, i);
    await until('listed again', () => replicas() === 12);
    expect(api.requests.filter((r) => r.method === 'GET' && !r.watch && r.path === DEPLOY)).toHaveLength(2);
    api.setReplicas(SHADOW, 13);
    await until('watched', () => replicas() === 13);
  });

  it('answers for an object read or written at a newer version than it holds with that object, or not at all', async () => {
    await until('listed', () => replicas() === 1);
    api.watchDelayMs = 300;
    api.setReplicas(SHADOW, 2);
    cache.seen('Deployment', NS, 'checkout-shadow', api.get(SHADOW).metadata.resourceVersion);
    expect(replicas()).toBeUndefined();
    await until('caught up', () => replicas() === 2);
    api.setReplicas(SHADOW, 3);
    cache.seen('Deployment', NS, 'checkout-shadow', api.get(SHADOW).metadata.resourceVersion, api.get(SHADOW));
    expect(replicas()).toBe(3);
    // An older version than the one known changes nothing.
    cache.seen('Deployment', NS, 'checkout-shadow', '1', { metadata: { resourceVersion: '1' }, spec: { replicas: 9 } } as never);
    expect(replicas()).toBe(3);
    api.setReplicas(SHADOW, 4);
    await until('caught up again', () => replicas() === 4);
  });

  it('answers nothing while the server refuses the watch (the caller reads), reports each failure and the recovery, and recovers', async () => {
    api.inject((r) => r.watch === true, { status: 403, times: 3 });
    cache.start('Deployment', NS);
    await until('refused', () => errors.length > 0);
    expect(replicas()).toBeUndefined();
    await until('recovered', () => replicas() === 1, 5000);
    expect(errors[0]).toMatch(/watch of Deployments in shop: Forbidden/);
    expect(errors.at(-1)).toBe('watch of Deployments in shop: ok');
    api.setReplicas(SHADOW, 4);
    await until('watched', () => replicas() === 4);
  });

  it('compares resourceVersions as integers and trusts nothing else', () => {
    expect(olderVersion('999', '1000')).toBe(true);
    expect(olderVersion('1000', '999')).toBe(false);
    expect(olderVersion('1000', '1000')).toBe(false);
    expect(olderVersion('abc', '1000')).toBeUndefined();
  });
});
