/**
 * The Kubernetes path against the in-test API server: the exact requests of a prescale and of a
 * promotion, retries on 409 and 500, a request that never answers, and leader election. The objects are
 * read at each reconciliation here (`watch: false`), the path the informers fall back to;
 * watch-cache.test.ts covers the receiver observing from them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { stringify } from 'yaml';

import { parseConfig } from '../../core/config.ts';
import { emptyMemory, recordAlerts } from '../../core/promotion/promotion.ts';
import { FakeKubeApi, type RecordedRequest } from '../../test/harness/kube-api.ts';
import { AutoscalerControllers } from '../../test/harness/kube-autoscalers.ts';
import { KubeControllers } from '../../test/harness/kube-controllers.ts';
import { MemoryAudit } from '../../alertmanager/audit.ts';
import { startReceiver, type RunningReceiver } from '../../alertmanager/service.ts';
import type { SignalSource } from '../../alertmanager/signals.ts';
import { createKubeApis, kubeConfigFor } from '../../platform/kubernetes.ts';
import { LeaseElector } from '../../alertmanager/lease.ts';
import { ConfigMapStore } from '../../alertmanager/configmap-store.ts';
import { MemoryConflict } from '../../alertmanager/store.ts';
import { until } from '../../test/harness/wait.ts';

const NS = 'shop';
const DEPLOY = `/apis/apps/v1/namespaces/${NS}/deployments`;
const HPA = `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/checkout`;
const ROUTE = `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/checkout`;
const STATE = '/api/v1/namespaces/shadowscale/configmaps';

const config = parseConfig(`
prometheus: { url: http://127.0.0.1:9 }
receiver:
  listen: "127.0.0.1:0"
  cooldown: 1s
  minHold: 1s
  drain: 1s
  resync: 1h
  kubernetes: { requestTimeout: 1s, retries: 3, watch: false }
  leaderElection: { namespace: shadowscale }
workloads:
  - name: checkout
    namespace: shop
    load: sum(rate(http_requests_total{workload="checkout",role="primary"}[1m]))
    capacityPerReplica: 50
    primary: { name: checkout, minReplicas: 2, maxReplicas: 20 }
    shadow: { name: checkout-shadow, minReplicas: 1, maxReplicas: 5, mirrorPercent: 10, resourceFraction: 0.5 }
    autoscaler: { kind: HorizontalPodAutoscaler }
    router: { kind: HTTPRoute, name: checkout, port: 8080 }
`);

const readiness = { ready: true };
const signals: SignalSource = { shadowReady: async () => readiness.ready, plan: async () => ({ desiredReplicas: 8, shadowPoolSize: 3 }) };

function seed(api: FakeKubeApi): void {
  api.deployment(NS, 'checkout', 6);
  api.deployment(NS, 'checkout-shadow', 1);
  api.hpa(NS, 'checkout', 'checkout', 2, 20, {
    metrics: [{ type: 'External', external: { metric: { name: 'shadowscale_desired_replicas' }, target: { type: 'AverageValue', averageValue: '1' } } }],
    behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
  });
  api.put(ROUTE, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'checkout', namespace: NS, generation: 1 },
    // As the gateway left it: the current spec (generation 1) accepted, its Services resolved.
    status: { parents: [{ parentRef: { name: 'gateway' }, controllerName: 'example.net/gateway-controller', conditions: [{ type: 'Accepted', status: 'True', observedGeneration: 1 }, { type: 'ResolvedRefs', status: 'True', observedGeneration: 1 }] }] },
    spec: {
      parentRefs: [{ name: 'gateway' }],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [{ name: 'checkout', port: 8080 }],
          filters: [
            { type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-team', value: 'shop' }] } },
            { type: 'RequestMirror', requestMirror: { backendRef: { name: 'checkout-shadow', port: 8080 }, percent: 10 } },
          ],
        },
      ],
    },
  });
}

const alert = (fingerprint: string, action: string, status: 'firing' | 'resolved', alertname: string, startsAt = new Date().toISOString()) => ({
  status,
  labels: { alertname, namespace: NS, workload: 'checkout', shadowscale_action: action },
  annotations: {},
  startsAt,
  endsAt: '0001-01-01T00:00:00Z',
  fingerprint,
});
const payload = (alerts: ReturnType<typeof alert>[]) => ({ version: '4', groupKey: 'g', status: 'firing', receiver: 'shadowscale', alerts });

/** Writes to the workload's objects (not the state ConfigMap, not Events), as method + path + the fields that matter. */
function actions(requests: RecordedRequest[]): string[] {
  return requests
    .filter((r) => r.method !== 'GET' && !r.path.startsWith(STATE) && !r.path.endsWith('/events'))
    .map((r) => {
      if (r.path.endsWith('/scale')) return `PATCH ${r.path.split('/').at(-2)}/scale replicas=${r.body.spec.replicas}`;
      if (r.path === HPA) return `PATCH hpa minReplicas=${r.body.spec.minReplicas}${r.body.spec.maxReplicas !== undefined ? ` maxReplicas=${r.body.spec.maxReplicas}` : ''} target=${r.body.spec.scaleTargetRef.name}`;
      if (r.path === ROUTE) {
        const rule = r.body.spec.rules[0];
        const mirror = rule.filters.find((f: any) => f.type === 'RequestMirror').requestMirror;
        return `PATCH route backend=${rule.backendRefs.map((b: any) => b.name).join(',')} mirror=${mirror.backendRef.name}@${mirror.percent}`;
      }
      return `${r.method} ${r.path}`;
    });
}

let api: FakeKubeApi;
let autoscalers: AutoscalerControllers;
let running: RunningReceiver;
const audit = new MemoryAudit();

async function post(body: unknown): Promise<number> {
  const res = await fetch(`${running.url}/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.status;
}

beforeEach(async () => {
  api = new FakeKubeApi();
  await api.start();
  seed(api);
  // The HPA controller and KEDA's operator act on what the receiver writes, as on a cluster.
  autoscalers = new AutoscalerControllers(api);
  audit.events.length = 0;
  running = await startReceiver(config, { kubeConfig: kubeConfigFor(api.url), signals, audit, logger: pino({ level: 'silent' }), noResync: true });
});
afterEach(async () => {
  await running?.stop();
  await api?.stop();
});

describe('the receiver against the Kubernetes API', () => {
  it('prescales with exactly an HPA floor patch and a scale patch, recorded in the state ConfigMap first', async () => {
    expect(await post(payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]))).toBe(200);
    await running.receiver.idle();
    expect(actions(api.requests)).toEqual(['PATCH hpa minReplicas=8 target=checkout', 'PATCH checkout-shadow/scale replicas=3']);
    const writes = api.writes();
    // The intent is durable (ConfigMap created) before the first action; the plan the floor comes from
    // is recorded right after that first write (a round trip sooner), before the next one.
    const order = writes.filter((w) => !w.path.endsWith('/events')).map((w) => (w.path.startsWith(STATE) ? `${w.method} state` : w.path === HPA ? 'PATCH hpa' : `${w.method} ${w.path.split('/').slice(-2).join('/')}`));
    expect(order).toEqual(['POST state', 'PATCH hpa', 'PUT state', 'PATCH checkout-shadow/scale']);
    const memory = JSON.parse(api.get(`${STATE}/shadowscale-receiver-state-shop-checkout`).data['memory.json']);
    expect(memory.alerts.a1.status).toBe('firing');
    expect(memory.prescalePlan).toMatchObject({ desiredReplicas: 8, shadowPoolSize: 3 });
    // Merge patches carrying the resourceVersion that was read (optimistic concurrency).
    const scalePatch = writes.find((w) => w.path.endsWith('checkout-shadow/scale'))!;
    expect(scalePatch.contentType).toBe('application/merge-patch+json');
    expect(scalePatch.body.metadata.resourceVersion).toMatch(/^\d+$/);
    // The HPA keeps its metrics and behaviour, and its controller brings the primary up to the new floor.
    expect(api.get(HPA).spec.behavior).toEqual({ scaleDown: { stabilizationWindowSeconds: 300 } });
    expect(api.get(`${DEPLOY}/checkout`).spec.replicas).toBe(8);
    expect(api.get(HPA).status).toMatchObject({ desiredReplicas: 8 });
  });

  it('keeps an alert resolved while its floor was being raised: the plan recorded after that write never overwrites it', async () => {
    // The floor patch fails once (500) and is retried; the resolution arrives meanwhile.
    api.inject((r) => r.method === 'PATCH' && r.path === HPA, { status: 500 });
    let resolved: Promise<number> | undefined;
    api.onRequest = (r) => {
      if (r.method === 'PATCH' && r.path === HPA) resolved ??= post(payload([alert('a1', 'prescale', 'resolved', 'ShadowscaleLoadAnomaly')]));
    };
    expect(await post(payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]))).toBe(200);
    await until('the floor patch', () => resolved !== undefined, 5000);
    expect(await resolved).toBe(200);
    await running.receiver.idle();
    const memory = () => JSON.parse(api.get(`${STATE}/shadowscale-receiver-state-shop-checkout`).data['memory.json']);
    expect(memory().alerts.a1.status).toBe('resolved');
    // The episode's cooldown still holds the captured plan: the pool never went to its maximum (5), as
    // it would have with the plan lost.
    expect(memory().prescalePlan).toMatchObject({ desiredReplicas: 8, shadowPoolSize: 3 });
    const pools = api.writes().filter((w) => w.path.endsWith('checkout-shadow/scale')).map((w) => w.body.spec.replicas);
    expect(Math.max(...pools)).toBe(3);
    // Once the cooldown has passed the episode ends: the floor and the pool go back to their minimums.
    await until('the episode to end', () => api.get(HPA).spec.minReplicas === 2 && api.get(`${DEPLOY}/checkout-shadow`).spec.replicas === 1, 5000);
    expect(memory().alerts.a1.status).toBe('resolved');
    expect(memory().prescalePlan).toBeUndefined();
  });

  it('answers the same payload five times, concurrently, with one set of actions', async () => {
    const body = payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]);
    const statuses = await Promise.all(Array.from({ length: 5 }, () => post(body)));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    await running.receiver.idle();
    expect(actions(api.requests)).toHaveLength(2);
    await running.receiver.reconcile('shop/checkout');
    expect(actions(api.requests)).toHaveLength(2);
  });

  it('promotes in order: grow the shadow to the serving capacity, wait for it, move the route, retarget the HPA (its bounds in shadow pods), shrink the old primary', async () => {
    api.readyDelayMs = 300;
    expect(await post(payload([alert('p1', 'promote', 'firing', 'ShadowscalePrimaryDegraded')]))).toBe(200);
    await until('route moved', () => api.get(ROUTE).spec.rules[0].backendRefs[0].name === 'checkout-shadow');
    await until('old primary shrunk', () => api.get(`${DEPLOY}/checkout`).spec.replicas === 1);
    await running.receiver.idle();
    // Shadow pods have half the resources: 6 primary pods' worth is 12 of them, the HPA's bounds 2-20
    // become 4-40.
    expect(actions(api.requests)).toEqual([
      'PATCH checkout-shadow/scale replicas=12',
      'PATCH route backend=checkout-shadow mirror=checkout@10',
      'PATCH hpa minReplicas=4 maxReplicas=40 target=checkout-shadow',
      'PATCH checkout/scale replicas=1',
    ]);
    // The route was moved only once the shadow had 12 ready replicas.
    const routePatch = api.requests.find((r) => r.method === 'PATCH' && r.path === ROUTE)!;
    const grown = api.requests.find((r) => r.method === 'PATCH' && r.path.endsWith('checkout-shadow/scale'))!;
    expect(routePatch.at - grown.at).toBeGreaterThanOrEqual(250);
    // This route reports no new generation to wait for: the HPA is retargeted, and the old primary
    // shrunk, only once the drain (1 s) from the move has passed, even within the same reconciliation.
    const retarget = api.requests.find((r) => r.method === 'PATCH' && r.path === HPA)!;
    expect(retarget.at - routePatch.at).toBeGreaterThanOrEqual(1000);
    // Other filters of the rule are kept.
    expect(api.get(ROUTE).spec.rules[0].filters[0].type).toBe('RequestHeaderModifier');
    // Every write names shadowscale's field manager (what GitOps tools are told to leave alone).
    expect(api.writes().length).toBeGreaterThan(4);
    expect(api.writes().filter((w) => w.fieldManager !== 'shadowscale')).toEqual([]);
    expect(api.requests.some((r) => r.method === 'POST' && r.path.endsWith('/events') && r.body.reason === 'ShadowscalePromoted')).toBe(true);
  });

  it('retargets the HPA and shrinks the old primary only once the gateway has programmed the route and the drain has passed', async () => {
    api.gatewayAckMs = 1500;
    expect(await post(payload([alert('p1', 'promote', 'firing', 'ShadowscalePrimaryDegraded')]))).toBe(200);
    await until('old primary shrunk', () => api.get(`${DEPLOY}/checkout`).spec.replicas === 1, 10_000);
    const routePatch = api.requests.find((r) => r.method === 'PATCH' && r.path === ROUTE)!;
    const retarget = api.requests.find((r) => r.method === 'PATCH' && r.path === HPA)!;
    const shrink = api.requests.find((r) => r.method === 'PATCH' && r.path.endsWith('checkout/scale'))!;
    // The gateway acknowledged generation 2 about 1.5 s after the write; the drain (1 s) had passed by then.
    expect(api.get(ROUTE).status.parents[0].conditions[0]).toMatchObject({ type: 'Accepted', observedGeneration: 2 });
    expect(retarget.at - routePatch.at).toBeGreaterThanOrEqual(1500);
    expect(shrink.at - routePatch.at).toBeGreaterThanOrEqual(1500);
    expect(audit.events.some((e) => e.event === 'wait' && /router has taken the new routes \(gateway gateway: Accepted True at generation 1, route at generation 2\)/.test((e as { why: string }).why))).toBe(true);
  });

  it('restarts a degraded shadow once per firing, and never promotes it meanwhile', async () => {
    const degraded = alert('d1', 'restart', 'firing', 'ShadowscaleShadowDegraded', '2026-11-23T07:50:00Z');
    const body = payload([degraded, alert('p1', 'promote', 'firing', 'ShadowscalePrimaryDegraded')]);
    expect(await post(body)).toBe(200);
    await running.receiver.idle();
    expect(await post(body)).toBe(200);
    await running.receiver.idle();
    await running.receiver.reconcile('shop/checkout');
    const restarts = api.writes().filter((r) => r.path === `${DEPLOY}/checkout-shadow`);
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toMatchObject({ method: 'PATCH', contentType: 'application/merge-patch+json' });
    const stamp = api.get(`${DEPLOY}/checkout-shadow`).spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'];
    expect(Date.parse(stamp)).toBeGreaterThanOrEqual(Date.parse('2026-11-23T07:50:00Z'));
    // The readiness signal says ready, but the shadow is degraded: the route never moved.
    expect(api.requests.some((r) => r.method === 'PATCH' && r.path === ROUTE)).toBe(false);
    expect(api.requests.some((r) => r.method === 'POST' && r.path.endsWith('/events') && r.body.reason === 'ShadowscaleShadowRestarted')).toBe(true);
    // A new firing of the same alert: one more restart.
    expect(await post(payload([{ ...degraded, startsAt: new Date(Date.now() + 1000).toISOString() }]))).toBe(200);
    await running.receiver.idle();
    expect(api.writes().filter((r) => r.path === `${DEPLOY}/checkout-shadow`)).toHaveLength(2);
  });

  it('retries a 409 and a 500, and aborts a request that never answers at its timeout, then retries it', async () => {
    api.inject((r) => r.method === 'PATCH' && r.path.endsWith('checkout-shadow/scale'), { status: 409 });
    api.inject((r) => r.method === 'GET' && r.path === HPA, { status: 500 });
    await post(payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]));
    await running.receiver.idle();
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(3);
    expect(api.get(HPA).spec.minReplicas).toBe(8);
    expect(api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('checkout-shadow/scale'))).toHaveLength(2);

    // A read that hangs: the 1 s timeout aborts it and the retry succeeds.
    api.inject((r) => r.method === 'GET' && r.path === `${DEPLOY}/checkout-shadow`, { hang: true });
    const reads = () => api.requests.filter((r) => r.method === 'GET' && r.path === `${DEPLOY}/checkout-shadow`).length;
    const readsBefore = reads();
    const started = Date.now();
    await post(payload([alert('a1', 'prescale', 'resolved', 'ShadowscaleLoadAnomaly'), alert('a2', 'prescale', 'firing', 'ShadowscalePredictedOverload')]));
    await running.receiver.idle();
    expect(audit.events.filter((e) => e.event === 'error')).toEqual([]);
    // Still prescaled (a2 fires), and nothing failed.
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(3);
    expect(reads() - readsBefore).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('does not promote through an HPA whose metric would keep measuring the old set, and says why', async () => {
    api.hpa(NS, 'checkout', 'checkout', 2, 20, {
      metrics: [{ type: 'External', external: { metric: { name: 'http_requests_per_second', selector: { matchLabels: { deployment: 'checkout' } } }, target: { type: 'AverageValue', averageValue: '50' } } }],
    });
    expect(await post(payload([alert('p1', 'promote', 'firing', 'ShadowscalePrimaryDegraded')]))).toBe(200);
    await until('held', () => audit.events.some((e) => e.event === 'wait'));
    await running.receiver.idle();
    // Nothing written: the traffic stays, the shadow is not grown for a swap that cannot happen.
    expect(actions(api.requests)).toEqual([]);
    expect(api.get(ROUTE).spec.rules[0].backendRefs[0].name).toBe('checkout');
    const wait = audit.events.find((e) => e.event === 'wait') as { why: string };
    expect(wait.why).toBe(
      `roles cannot change: HorizontalPodAutoscaler ${NS}/checkout: spec.metrics[0] (External http_requests_per_second) selects checkout; after a swap it would still measure checkout, not the set that serves. Use Resource or Pods metrics, or shadowscale's (shadowscale_desired_replicas)`,
    );
  });

  it('never writes an HPA that KEDA owns, and points to its ScaledObject', async () => {
    const hpa = api.get(HPA);
    api.put(HPA, { ...hpa, metadata: { ...hpa.metadata, ownerReferences: [{ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', name: 'checkout-so', uid: 'u1', controller: true }] } });
    expect(await post(payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]))).toBe(200);
    await until('held', () => audit.events.some((e) => e.event === 'wait'));
    await running.receiver.idle();
    expect(api.writes().filter((w) => w.path === HPA)).toEqual([]);
    expect((audit.events.find((e) => e.event === 'wait') as { why: string }).why).toBe(
      `autoscaler not written: HorizontalPodAutoscaler ${NS}/checkout is owned by ScaledObject checkout-so, and KEDA reverts every change to it: configure autoscaler: { kind: ScaledObject, name: checkout-so }`,
    );
  });

  it('reports a request that keeps failing, and converges at the next reconciliation', async () => {
    api.inject((r) => r.method === 'PATCH' && r.path === HPA, { status: 500, times: 10 });
    await post(payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]));
    await running.receiver.idle();
    const error = audit.events.find((e) => e.event === 'action' && e.result === 'error');
    expect(error).toMatchObject({ step: { kind: 'autoscaler' } });
    expect((error as { error: string }).error).toMatch(/HorizontalPodAutoscaler shop\/checkout: HTTP 500/);
    api.clearFaults();
    await running.receiver.reconcile('shop/checkout');
    expect(api.get(HPA).spec.minReplicas).toBe(8);
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(3);
  });
});

describe('one owner per field: the receiver and the warm pool', () => {
  const annotate = (annotations: Record<string, string>) => {
    const d = api.get(`${DEPLOY}/checkout`);
    api.put(`${DEPLOY}/checkout`, { ...d, metadata: { ...d.metadata, annotations } });
  };
  const scaleShadow = (replicas: number) => {
    const d = api.get(`${DEPLOY}/checkout-shadow`);
    api.put(`${DEPLOY}/checkout-shadow`, { ...d, spec: { ...d.spec, replicas }, status: { ...d.status, replicas, readyReplicas: replicas } });
  };

  it('leaves a warm pool above the minimum alone while idle, and holds it within the pool maximum', async () => {
    annotate({ 'shadowscale.io/shadows': '1', 'shadowscale.io/pool-max': '4' });
    scaleShadow(3);
    await running.receiver.reconcile('shop/checkout');
    expect(actions(api.requests)).toEqual([]);
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(3);
    // Above the pool's maximum (and never above shadow.maxReplicas, 5): back to the maximum.
    scaleShadow(7);
    await running.receiver.reconcile('shop/checkout');
    expect(actions(api.requests)).toEqual(['PATCH checkout-shadow/scale replicas=4']);
    // The pool may act only while the receiver is idle.
    expect(await running.receiver.poolView(NS, 'checkout')).toEqual({ idle: true, min: 1, max: 5 });
    expect(await post(payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]))).toBe(200);
    await running.receiver.idle();
    expect(await running.receiver.poolView(NS, 'checkout')).toMatchObject({ idle: false });
    expect(await running.receiver.poolView(NS, 'other')).toBeUndefined();
  });

  it('never writes a scale computed from an older observation: it observes again and decides anew', async () => {
    let moved = false;
    api.onRequest = (r) => {
      // Between the receiver's observation and its write, someone scales the shadow to 2: the write,
      // made on the version observed, is refused (409); the Scale read after it has 2, not the 1 the
      // step was computed from.
      if (!moved && r.method === 'PATCH' && r.path === `${DEPLOY}/checkout-shadow/scale`) {
        moved = true;
        scaleShadow(2);
      }
    };
    expect(await post(payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]))).toBe(200);
    await running.receiver.idle();
    api.onRequest = undefined;
    expect(moved).toBe(true);
    const stale = audit.events.find((e) => e.event === 'wait' && /not taken/.test(e.why)) as { why: string };
    expect(stale.why).toMatch(/Deployment shop\/checkout-shadow has 2 replicas, not the 1 the step was computed from; observed again/);
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(3);
    // The refused write on the version observed, the read after it, then the write decided anew.
    const scales = api.requests.filter((r) => r.path === `${DEPLOY}/checkout-shadow/scale`).map((r) => r.method);
    expect(scales).toEqual(['PATCH', 'GET', 'PATCH']);
  });

  it("runs a warm-pool pass on the workload's lock: never while a reconciliation is in flight", async () => {
    api.inject((r) => r.method === 'PATCH' && r.path === HPA, { hang: true });
    expect(await post(payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]))).toBe(200);
    await until('reconciliation writing', () => api.requests.some((r) => r.method === 'PATCH' && r.path === HPA));
    // What the pool pass sees when it runs: the reconciliation's writes all done (the hung one timed
    // out and was retried), not halfway.
    const seen = await running.receiver.exclusive(NS, 'checkout', async () => ({ floor: api.get(HPA).spec.minReplicas, shadow: api.get(`${DEPLOY}/checkout-shadow`).spec.replicas }));
    expect(seen).toEqual({ floor: 8, shadow: 3 });
    const other = await running.receiver.exclusive(NS, 'not-configured', async () => 'direct');
    expect(other).toBe('direct');
  });
});

describe('leader election through a Lease', () => {
  it('elects one leader, publishes its address, and hands over when it stops', async () => {
    const apis = createKubeApis(kubeConfigFor(api.url), { timeoutMs: 1000, retries: 0 });
    let clock = Date.now();
    const now = () => clock;
    const settings = { namespace: 'shadowscale', name: 'shadowscale-receiver', leaseDurationSeconds: 15, retryPeriodSeconds: 2 };
    const a = new LeaseElector(apis, { ...settings, identity: 'receiver-a', advertise: '10.0.0.1:8081' }, undefined, now);
    const b = new LeaseElector(apis, { ...settings, identity: 'receiver-b', advertise: '10.0.0.2:8081' }, undefined, now);
    await a.tryOnce();
    await b.tryOnce();
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    expect(b.leaderAddress()).toBe('10.0.0.1:8081');
    const lease = api.get('/apis/coordination.k8s.io/v1/namespaces/shadowscale/leases/shadowscale-receiver');
    expect(lease.spec).toMatchObject({ holderIdentity: 'receiver-a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(lease.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    // a stops renewing: b takes over only after a full lease duration of an unchanged record.
    clock += 10_000;
    await b.tryOnce();
    expect(b.isLeader()).toBe(false);
    clock += 6_000;
    await b.tryOnce();
    expect(b.isLeader()).toBe(true);
    expect(a.isLeader()).toBe(false); // its own renewal is more than a lease duration old
    await a.tryOnce();
    expect(a.isLeader()).toBe(false);
    expect(a.leaderAddress()).toBe('10.0.0.2:8081');
    expect(api.get('/apis/coordination.k8s.io/v1/namespaces/shadowscale/leases/shadowscale-receiver').spec.leaseTransitions).toBe(1);

    // A stopping leader releases the lease: the follower takes it at its next round.
    await b.stop();
    await a.tryOnce();
    expect(a.isLeader()).toBe(true);
  });

  it('a follower forwards webhooks to the leader, and answers 503 when there is none', async () => {
    const leader = running;
    const follower = await startReceiver(config, {
      kubeConfig: kubeConfigFor(api.url),
      signals,
      audit: new MemoryAudit(),
      logger: pino({ level: 'silent' }),
      noResync: true,
      leadership: { isLeader: () => false, leaderAddress: () => leader.url.replace('http://', '') },
    });
    try {
      const body = payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]);
      const res = await fetch(`${follower.url}/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(200);
      expect((await res.json()).recorded).toBe(1);
      await leader.receiver.idle();
      expect(api.get(HPA).spec.minReplicas).toBe(8);
    } finally {
      await follower.stop();
    }
    const orphan = await startReceiver(config, {
      kubeConfig: kubeConfigFor(api.url),
      signals,
      audit: new MemoryAudit(),
      logger: pino({ level: 'silent' }),
      noResync: true,
      leadership: { isLeader: () => false, leaderAddress: () => undefined },
    });
    try {
      const res = await fetch(`${orphan.url}/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload([])) });
      expect(res.status).toBe(503);
    } finally {
      await orphan.stop();
    }
  });
});

describe('fencing: a leader that loses the Lease mid-promotion', () => {
  it('stops before its next write, the new leader takes over, the resolved alert is kept, and the end state is reverted', async () => {
    await running.stop(); // the suite's receiver leads nothing here
    const LEASE = '/apis/coordination.k8s.io/v1/namespaces/shadowscale/leases/shadowscale-receiver';
    // The suite's workload, with leader election on: a short Lease, a resync every second.
    const start = (identity: string) => {
      const cfg = structuredClone(config);
      const r = cfg.receiver!;
      r.resync = 1;
      r.kubernetes.retries = 1;
      r.leaderElection = { ...r.leaderElection, enabled: true, leaseDuration: 3, retryPeriod: 1, identity };
      return startReceiver(cfg, { kubeConfig: kubeConfigFor(api.url, identity), signals, audit, logger: pino({ level: 'silent' }) });
    };
    const a = await start('a');
    await until('a leads', () => api.get(LEASE)?.spec.holderIdentity === 'a');
    const b = await start('b');
    try {
      // A promotion that waits: the shadow's new pods take 4 s to be ready.
      api.readyDelayMs = 4000;
      const post = (to: RunningReceiver, body: unknown) => fetch(`${to.url}/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const firing = alert('p1', 'promote', 'firing', 'ShadowscalePrimaryDegraded');
      expect((await post(a, payload([firing]))).status).toBe(200);
      await until('shadow grown by a', () => api.writes().some((r) => r.user === 'a' && r.path.endsWith('checkout-shadow/scale')));
      // a can no longer reach the Lease (a partition): it stops acting at its renew deadline, b takes
      // the Lease once it has seen it unchanged for a lease duration.
      api.inject((r) => r.user === 'a' && r.path.startsWith(LEASE), { status: 503, times: 1_000 });
      await until('b leads', () => api.get(LEASE)?.spec.holderIdentity === 'b', 15_000);
      const handover = Date.now();
      // The alert resolves; Alertmanager sends it to whoever answers (here b, the leader).
      expect((await post(b, payload([{ ...firing, status: 'resolved', endsAt: new Date().toISOString() }]))).status).toBe(200);
      await until('reverted: the shadow back to its pool', () => api.get(`${DEPLOY}/checkout-shadow`).spec.replicas === 1, 20_000);
      await b.receiver.idle();
      // Traffic never moved (a was stopped while waiting for the shadow), the HPA still scales the primary.
      expect(api.get(ROUTE).spec.rules[0].backendRefs[0].name).toBe('checkout');
      expect(api.get(HPA).spec.scaleTargetRef.name).toBe('checkout');
      // Exactly one actor wrote after the handover: b (a's failed Lease renewals aside).
      const after = api.writes().filter((r) => r.at >= handover && !r.path.startsWith(LEASE));
      expect(after.length).toBeGreaterThan(0);
      expect(new Set(after.map((r) => r.user))).toEqual(new Set(['b']));
      // The resolved alert is in the memory, not overwritten by a's older one.
      const memory = JSON.parse(api.get('/api/v1/namespaces/shadowscale/configmaps/shadowscale-receiver-state-shop-checkout').data['memory.json']);
      expect(memory.alerts.p1.status).toBe('resolved');
      expect(memory).toMatchObject({ swapped: false });
    } finally {
      api.clearFaults();
      await b.stop();
      await a.stop();
    }
  }, 60_000);
});

describe('the memory in a ConfigMap, written by two leaders', () => {
  it('never overwrites what another writer wrote since it read: MemoryConflict, then the next load reads theirs', async () => {
    const apisA = createKubeApis(kubeConfigFor(api.url, 'a'), { timeoutMs: 1000, retries: 0 });
    const apisB = createKubeApis(kubeConfigFor(api.url, 'b'), { timeoutMs: 1000, retries: 0 });
    const a = new ConfigMapStore(apisA, 'shadowscale', 'state');
    const b = new ConfigMapStore(apisB, 'shadowscale', 'state');
    const firing = recordAlerts(emptyMemory(), [{ fingerprint: 'p1', alertname: 'X', action: 'promote', status: 'firing', startsAt: '2026-11-30T10:00:00Z' }], 1);
    await a.save('shop/checkout', firing);
    await b.load('shop/checkout');
    const resolved = recordAlerts(await b.load('shop/checkout'), [{ fingerprint: 'p1', alertname: 'X', action: 'promote', status: 'resolved', startsAt: '2026-11-30T10:00:00Z' }], 2);
    await b.save('shop/checkout', resolved);
    // a still holds its older copy: its write is refused, not retried over b's.
    await expect(a.save('shop/checkout', { ...firing, swapped: true })).rejects.toBeInstanceOf(MemoryConflict);
    expect((await a.load('shop/checkout')).alerts.p1.status).toBe('resolved');
  });
});

describe('the memory of every workload, read in one list by a new leader', () => {
  // This test's requests (the running receiver lists too, with another token).
  const mine = (from: number) => api.requests.slice(from).filter((r) => r.user === 'a');
  it('lists the memory ConfigMaps once: a workload with one loads it without a read, one without writes without a read first', async () => {
    const apis = createKubeApis(kubeConfigFor(api.url, 'a'), { timeoutMs: 1000, retries: 0 });
    const firing = recordAlerts(emptyMemory(), [{ fingerprint: 'p1', alertname: 'X', action: 'promote', status: 'firing', startsAt: '2026-11-30T10:00:00Z' }], 1);
    await new ConfigMapStore(apis, 'shadowscale', 'state').save('shop/checkout', firing);
    // A memory ConfigMap someone made without the labels: the list misses it.
    api.put(`${STATE}/state-shop-unlabelled`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'state-shop-unlabelled', namespace: 'shadowscale' }, data: { 'memory.json': JSON.stringify(firing) } });
    const store = new ConfigMapStore(apis, 'shadowscale', 'state');
    const from = api.requests.length;
    expect(await store.prime(['shop/checkout', 'shop/cart', 'shop/unlabelled'])).toBe(1);
    expect(mine(from).map((r) => `${r.method} ${r.path} ${r.labelSelector ?? ''}`.trim())).toEqual([`GET ${STATE} app.kubernetes.io/managed-by=shadowscale,shadowscale.io/workload`]);
    expect((await store.load('shop/checkout')).alerts.p1.status).toBe('firing');
    await store.save('shop/cart', firing);
    expect(mine(from).slice(1).map((r) => `${r.method} ${r.path}`)).toEqual([`POST ${STATE}`]);
    // The unlabelled one: taken for absent, so the create is refused (409), and it is read then.
    await expect(store.save('shop/unlabelled', emptyMemory())).rejects.toBeInstanceOf(MemoryConflict);
    expect((await store.load('shop/unlabelled')).alerts.p1.status).toBe('firing');
  });

  it('drops a list begun before the memory was invalidated (leadership lost and taken again meanwhile)', async () => {
    const apis = createKubeApis(kubeConfigFor(api.url, 'a'), { timeoutMs: 1000, retries: 0 });
    const store = new ConfigMapStore(apis, 'shadowscale', 'state');
    api.inject((r) => r.user === 'a' && r.method === 'GET' && r.path === STATE, { status: 500 });
    await expect(store.prime(['shop/checkout'])).rejects.toThrow(/list ConfigMaps in shadowscale: HTTP 500/);
    const listing = store.prime(['shop/checkout']);
    store.invalidate();
    expect(await listing).toBe(0);
    const from = api.requests.length;
    await store.load('shop/checkout');
    expect(mine(from).map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${STATE}/state-shop-checkout`]);
  });
});

describe('other autoscalers and routers, dry run and the per-workload switch', () => {
  const variant = (yaml: string) =>
    parseConfig(`
prometheus: { url: http://127.0.0.1:9 }
receiver: { listen: "127.0.0.1:0", resync: 1h, minHold: 1s, kubernetes: { requestTimeout: 1s } }
workloads:
  - name: checkout
    namespace: shop
    load: up
    capacityPerReplica: 50
    primary: { name: checkout, minReplicas: 2, maxReplicas: 20 }
    shadow: { name: checkout-shadow, minReplicas: 1, maxReplicas: 5, mirrorPercent: 10 }
${yaml}`);
  const SO = `/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/checkout-so`;
  const SVC = `/api/v1/namespaces/${NS}/services/checkout`;

  async function run(cfg: ReturnType<typeof parseConfig>, body: unknown, extra: Parameters<typeof startReceiver>[1] = {}) {
    await running.stop();
    running = await startReceiver(cfg, { kubeConfig: kubeConfigFor(api.url), signals, audit, logger: pino({ level: 'silent' }), noResync: true, ...extra });
    expect(await post(body)).toBe(200);
    await running.receiver.idle();
  }

  it('promotes through a ScaledObject and a Service selector, retargeting and shrinking once the EndpointSlices follow and the drain has passed', async () => {
    // Pods labelled by set, run by the Deployment and ReplicaSet controllers; the EndpointSlice
    // controller follows a change 400 ms later; a deleted pod terminates for 200 ms.
    for (const [name, set] of [['checkout', 'blue'], ['checkout-shadow', 'green']]) {
      const d = api.get(`${DEPLOY}/${name}`);
      const labels = { app: 'shop', set };
      api.put(`${DEPLOY}/${name}`, { ...d, spec: { ...d.spec, selector: { matchLabels: labels }, template: { ...d.spec.template, metadata: { labels } } } });
    }
    // The ScaledObject is this workload's only autoscaler.
    api.objects.delete(HPA);
    const controllers = new KubeControllers(api, 50, { endpointsDelayMs: 400, terminationMs: 200 });
    try {
      api.put(SO, {
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: { name: 'checkout-so', namespace: NS },
        spec: { scaleTargetRef: { name: 'checkout' }, minReplicaCount: 2, maxReplicaCount: 30, triggers: [{ type: 'external', metadata: { scalerAddress: 'shadowscale:9100', metric: 'shadowscale_desired_replicas' } }] },
      });
      api.put(SVC, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'checkout', namespace: NS }, spec: { selector: { app: 'shop', set: 'blue' }, ports: [{ port: 80 }] } });
      autoscalers.reconcile();
      controllers.reconcile();
      controllers.readyAll();
      await until('endpoints of the primary', () => (api.get(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/checkout-slice`)?.endpoints.length ?? 0) === 6);
      const cfg = variant(`    autoscaler: { kind: ScaledObject, name: checkout-so }
    router: { kind: Service, name: checkout, selectorKey: set, primaryValue: blue, shadowValue: green }`);
      cfg.receiver!.drain = 1;
      await run(cfg, payload([alert('p1', 'promote', 'firing', 'ShadowscalePrimaryDegraded'), alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]));
      await until('old primary shrunk', () => api.get(`${DEPLOY}/checkout`).spec.replicas === 3, 10_000);
      await running.receiver.idle();
      expect(api.get(SVC).spec.selector).toEqual({ app: 'shop', set: 'green' });
      // The prescaled floor of 8 primary pods is 16 shadow pods (default resourceFraction 0.5); the ceiling 20 is 40.
      expect(api.get(SO).spec).toMatchObject({ minReplicaCount: 16, maxReplicaCount: 40, scaleTargetRef: { name: 'checkout-shadow', kind: 'Deployment' }, triggers: [{ type: 'external' }] });
      // KEDA's HPA followed its ScaledObject, and the HPA controller holds the serving set at its floor.
      expect(api.get(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/keda-hpa-checkout-so`).spec).toMatchObject({ minReplicas: 16, maxReplicas: 40, scaleTargetRef: { name: 'checkout-shadow' } });
      expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(16);
      const svcPatch = api.writes().find((w) => w.path === SVC)!;
      expect(svcPatch).toMatchObject({ method: 'PATCH', contentType: 'application/merge-patch+json', body: { spec: { selector: { set: 'green' } } } });
      // It waited for the EndpointSlice to drop the old set's pods, and for the drain (1 s), before retargeting.
      const waits = audit.events.filter((e) => e.event === 'wait').map((e) => (e as { why: string }).why);
      expect(waits.some((why) => /autoscaler retargeted once the router has taken the new routes \(EndpointSlice checkout-slice still sends to pod checkout-/.test(why))).toBe(true);
      const retarget = api.writes().find((w) => w.path === SO && w.body?.spec?.scaleTargetRef?.name === 'checkout-shadow')!;
      expect(retarget.at - svcPatch.at).toBeGreaterThanOrEqual(1000);
      // No pod was deleted while the Service still sent to it.
      expect(controllers.deleted.filter((d) => d.serving)).toEqual([]);
    } finally {
      controllers.stop();
    }
  });

  it('in dry-run mode audits and exports the first step and changes nothing', async () => {
    const cfg = variant('    router: { kind: HTTPRoute, name: checkout, port: 8080 }');
    cfg.receiver!.dryRun = true;
    await run(cfg, payload([alert('a1', 'prescale', 'firing', 'ShadowscaleLoadAnomaly')]));
    expect(api.writes().filter((w) => !w.path.includes('/configmaps'))).toEqual([]);
    expect(audit.events.find((e) => e.event === 'action')).toMatchObject({ result: 'dry_run', step: { kind: 'autoscaler', minReplicas: 8 } });
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(/shadowscale_receiver_actions_total\{namespace="shop",workload="checkout",kind="autoscaler",result="dry_run"\} 1/);
    expect(metrics).toMatch(/shadowscale_receiver_desired_floor\{namespace="shop",workload="checkout"\} 8/);
  });

  it('with actions switched off for the workload records the alerts and changes nothing', async () => {
    await run(variant('    actions: false\n    router: { kind: HTTPRoute, name: checkout, port: 8080 }'), payload([alert('p1', 'promote', 'firing', 'ShadowscalePrimaryDegraded')]));
    expect(api.writes().filter((w) => !w.path.includes('/configmaps'))).toEqual([]);
    expect(audit.events.find((e) => e.event === 'action')).toMatchObject({ result: 'disabled', step: { kind: 'scale', set: 'checkout-shadow', replicas: 12 } });
  });
});

describe('shadow cost', () => {
  it('exports the standby replicas and their replica-seconds at the resource fraction', async () => {
    await running.stop();
    let clock = Date.parse('2026-11-23T10:00:00Z');
    running = await startReceiver(config, { kubeConfig: kubeConfigFor(api.url), signals, audit, logger: pino({ level: 'silent' }), noResync: true, now: () => clock });
    await running.receiver.reconcile('shop/checkout');
    clock += 10_000;
    await running.receiver.reconcile('shop/checkout');
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    // One shadow at the default resource fraction 0.5 for 10 s.
    expect(metrics).toMatch(/shadowscale_shadow_replicas\{namespace="shop",workload="checkout"\} 1/);
    expect(metrics).toMatch(/shadowscale_shadow_cost_replica_seconds_total\{namespace="shop",workload="checkout"\} 5/);
  });
});

describe('first writes first', () => {
  it('raises the floor of every workload in a webhook before growing any shadow, and waits at most 250 ms for a slow one', async () => {
    await running.stop();
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const many = parseConfig(
      stringify({
        prometheus: { url: 'http://127.0.0.1:9' },
        receiver: { listen: '127.0.0.1:0', resync: '1h', kubernetes: { requestTimeout: '2s', retries: 3, watch: false } },
        workloads: names.map((n) => ({ name: n, namespace: NS, load: 'up', capacityPerReplica: 10, primary: { name: n, minReplicas: 2, maxReplicas: 20 }, shadow: { name: `${n}-shadow`, minReplicas: 1, maxReplicas: 5 } })),
      }),
    );
    for (const n of names) {
      api.deployment(NS, n, 2);
      api.deployment(NS, `${n}-shadow`, 1);
      api.hpa(NS, n, n, 2, 20);
    }
    running = await startReceiver(many, { kubeConfig: kubeConfigFor(api.url), signals, audit, logger: pino({ level: 'silent' }), noResync: true });
    const hpaOf = (n: string) => `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/${n}`;
    const written = (path: string) => api.requests.find((r) => r.method === 'PATCH' && r.path === path)?.at;
    const burst = (fingerprint: string) => ({
      ...payload([]),
      alerts: names.map((n) => ({ ...alert(`${fingerprint}-${n}`, 'prescale', 'firing', 'ShadowscaleLoadAnomaly'), labels: { alertname: 'ShadowscaleLoadAnomaly', namespace: NS, workload: n, shadowscale_action: 'prescale' } })),
    });

    expect(await post(burst('x'))).toBe(200);
    await running.receiver.idle();
    const floors = names.map((n) => written(hpaOf(n))!);
    const shadows = names.map((n) => written(`${DEPLOY}/${n}-shadow/scale`)!);
    expect(floors.every((t) => t !== undefined) && shadows.every((t) => t !== undefined)).toBe(true);
    expect(Math.max(...floors)).toBeLessThanOrEqual(Math.min(...shadows));

    // One workload's reads hang before its first write (retried after their 2 s timeout): the others
    // go on after 250 ms.
    for (const n of names) api.put(hpaOf(n), { ...api.get(hpaOf(n)), spec: { ...api.get(hpaOf(n)).spec, minReplicas: 2 } });
    for (const n of names) api.put(`${DEPLOY}/${n}-shadow`, { ...api.get(`${DEPLOY}/${n}-shadow`), spec: { ...api.get(`${DEPLOY}/${n}-shadow`).spec, replicas: 1 } });
    await running.stop();
    running = await startReceiver(many, { kubeConfig: kubeConfigFor(api.url), signals, audit, logger: pino({ level: 'silent' }), noResync: true });
    api.requests.length = 0;
    api.inject((r) => r.method === 'GET' && r.path === hpaOf('a'), { hang: true, times: 2 });
    expect(await post(burst('y'))).toBe(200);
    await until('the other shadows grown', () => names.slice(1).every((n) => written(`${DEPLOY}/${n}-shadow/scale`) !== undefined), 1500);
    const others = names.slice(1).map((n) => written(`${DEPLOY}/${n}-shadow/scale`)! - written(hpaOf(n))!);
    expect(Math.max(...others)).toBeGreaterThanOrEqual(240);
    expect(Math.max(...others)).toBeLessThan(1000);
    expect(written(`${DEPLOY}/a-shadow/scale`)).toBeUndefined();
    await running.receiver.idle();
    expect(api.get(`${DEPLOY}/a-shadow`).spec.replicas).toBe(3);
  });
});
