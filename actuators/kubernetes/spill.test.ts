/**
 * Spill-over through the receiver against the in-test API server: the leader's loop splits the
 * HTTPRoute while the serving set is short of the plan, a step and a hold at a time, gives the share
 * back as it catches up, withdraws at once from a shadow that is not ready, and touches nothing else.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';

import { parseConfig } from '../../core/config.ts';
import { FakeKubeApi, type RecordedRequest } from '../../test/harness/kube-api.ts';
import { MemoryAudit } from '../../alertmanager/audit.ts';
import { startReceiver, type RunningReceiver } from '../../alertmanager/service.ts';
import type { SignalSource } from '../../alertmanager/signals.ts';
import { kubeConfigFor } from '../../platform/kubernetes.ts';
import { until } from '../../test/harness/wait.ts';

const NS = 'shop';
const ROUTE = `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/checkout`;
const HOLD_MS = 1000;

const configText = (receiverExtra = '') => `
prometheus: { url: http://127.0.0.1:9 }
receiver:
  listen: "127.0.0.1:0"${receiverExtra}
  resync: 1h
  kubernetes: { requestTimeout: 2s, retries: 3 }
  leaderElection: { namespace: shadowscale }
  spill: { enabled: true, every: 100ms, hold: ${HOLD_MS}ms }
workloads:
  - name: checkout
    namespace: shop
    load: sum(rate(http_requests_total{workload="checkout",role="primary"}[1m]))
    capacityPerReplica: 50
    primary: { name: checkout, minReplicas: 2, maxReplicas: 20 }
    shadow: { name: checkout-shadow, minReplicas: 4, maxReplicas: 5, mirrorPercent: 10, resourceFraction: 0.5 }
    router: { kind: HTTPRoute, name: checkout, port: 8080 }
`;
const config = parseConfig(configText());

const headerFilter = { type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-team', value: 'shop' }] } };
const mirror = { type: 'RequestMirror', requestMirror: { backendRef: { name: 'checkout-shadow', port: 8080 }, percent: 10 } };
const adminRule = { matches: [{ path: { type: 'PathPrefix', value: '/admin' } }], backendRefs: [{ name: 'admin', port: 9090 }] };

// What the adapter exports (observed and planned load) and the shadow's readiness, as the test sets them.
const state = { observed: 280, predicted: 280, ready: true };
const signals: SignalSource = {
  shadowReady: async () => state.ready,
  plan: async () => ({ desiredReplicas: 6, shadowPoolSize: 4 }),
  loads: async () => ({ observed: state.observed, predicted: state.predicted }),
};

/** The route writes, as the weights of rule 0 and its mirror. */
function routeWrites(requests: RecordedRequest[]): Array<{ at: number; weights: number[]; mirror: number }> {
  return requests
    .filter((r) => r.method === 'PATCH' && r.path === ROUTE)
    .map((r) => {
      const rule = r.body.spec.rules[0];
      const m = rule.filters.find((f: { type: string }) => f.type === 'RequestMirror');
      return { at: r.at, weights: rule.backendRefs.map((b: { weight: number }) => b.weight), mirror: m ? m.requestMirror.percent : 0 };
    });
}

let api: FakeKubeApi;
let running: RunningReceiver;
const audit = new MemoryAudit();

beforeEach(async () => {
  Object.assign(state, { observed: 280, predicted: 280, ready: true });
  api = new FakeKubeApi();
  await api.start();
  // 6 primaries serve 300; 4 shadows (the pool's minimum) at half a replica serve 100.
  api.deployment(NS, 'checkout', 6);
  api.deployment(NS, 'checkout-shadow', 4);
  api.hpa(NS, 'checkout', 'checkout', 2, 20);
  api.put(ROUTE, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'checkout', namespace: NS, generation: 1 },
    spec: { parentRefs: [{ name: 'gateway' }], rules: [{ backendRefs: [{ name: 'checkout', port: 8080 }], filters: [headerFilter, mirror] }, adminRule] },
  });
  audit.events.length = 0;
  running = await startReceiver(config, { kubeConfig: kubeConfigFor(api.url), signals, audit, logger: pino({ level: 'silent' }), noResync: true });
});
afterEach(async () => {
  await running?.stop();
  await api?.stop();
});

describe('spill-over through the receiver', () => {
  it('splits the route while the plan exceeds the serving set, a step a hold, and gives it back', async () => {
    // Nothing while the serving set has what the plan asks for.
    await new Promise((r) => setTimeout(r, 500));
    expect(routeWrites(api.requests)).toEqual([]);

    // The plan expects 360 within the lag: 60 above the 300 the serving set has, a sixth of it.
    state.predicted = 360;
    await until('the share to reach 16 %', () => routeWrites(api.requests).some((w) => w.weights[1] === 16), 10_000);
    // Then the serving set has caught up: the share goes back, ten points at a time, and the mirror returns.
    state.predicted = 250;
    state.observed = 240;
    await until('the route to be whole again', () => routeWrites(api.requests).at(-1)?.weights.length === 1, 10_000);

    const writes = routeWrites(api.requests);
    expect(writes.map((w) => [w.weights, w.mirror])).toEqual([
      [[90, 10], 0],
      [[84, 16], 0],
      [[94, 6], 0],
      [[1], 10],
    ]);
    // No two writes within a hold (counted from each decision; less what a write's own way to the API may vary).
    for (let i = 1; i < writes.length; i++) expect(writes[i].at - writes[i - 1].at).toBeGreaterThanOrEqual(HOLD_MS - 250);
    // The rest of the route as it was: the other rule, the other filter, the parents.
    const route = api.get(ROUTE);
    expect(route.spec.rules[1]).toEqual(adminRule);
    expect(route.spec.rules[0].filters).toEqual([headerFilter, mirror]);
    expect(route.spec.parentRefs).toEqual([{ name: 'gateway' }]);
    // Nothing but the route was written to the workload (the memory and Events aside).
    expect(api.writes().filter((r) => !r.path.includes('/configmaps') && !r.path.endsWith('/events') && r.path !== ROUTE)).toEqual([]);
    // Each change audited, and an Event for each split write.
    expect(audit.events.filter((e) => e.event === 'spill').map((e) => (e as { after: number }).after)).toEqual([0.1, 0.16, 0.06, 0]);
    await until('the Events', () => api.writes().filter((r) => r.path.endsWith('/events') && r.body?.reason === 'ShadowscaleSpillOver').length === 4, 5000);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(/shadowscale_receiver_spill_share\{namespace="shop",workload="checkout"\} 0\n/);

    // A share given back is not given again within the hold: the plan asks again at once, and the next
    // split waits a hold from the return (the memory keeps when the share last changed, zero included).
    state.predicted = 360;
    await until('the route split again', () => routeWrites(api.requests).length === 5, 10_000);
    const again = routeWrites(api.requests);
    expect(again[4].weights).toEqual([90, 10]);
    expect(again[4].at - again[3].at).toBeGreaterThanOrEqual(HOLD_MS - 250);
  }, 30_000);

  it('in a dry run, audits and exports the share it would send, and writes nothing', async () => {
    await running.stop();
    running = await startReceiver(parseConfig(configText('\n  dryRun: true')), { kubeConfig: kubeConfigFor(api.url), signals, audit, logger: pino({ level: 'silent' }), noResync: true });
    state.predicted = 360;
    await until('two decisions', () => audit.events.filter((e) => e.event === 'spill').length >= 2, 10_000);
    const spills = audit.events.filter((e) => e.event === 'spill') as Array<{ after: number; why: string }>;
    expect(spills.slice(0, 2).map((e) => e.after)).toEqual([0.1, 0.16]);
    expect(spills[0].why).toMatch(/dry run: not written/);
    expect(api.writes().filter((r) => r.method !== 'GET' && !r.path.endsWith('/leases'))).toEqual([]);
    expect(await (await fetch(`${running.url}/metrics`)).text()).toMatch(/shadowscale_receiver_spill_share\{namespace="shop",workload="checkout"\} 0\.16\n/);
  }, 30_000);

  it('withdraws the share at once from a shadow that is no longer ready, hold or not', async () => {
    state.predicted = 360;
    await until('a share to spill', () => routeWrites(api.requests).length === 1, 10_000);
    state.ready = false;
    await until('the share withdrawn', () => routeWrites(api.requests).length === 2, 5000);
    const [first, second] = routeWrites(api.requests);
    expect(second).toMatchObject({ weights: [1], mirror: 10 });
    expect(second.at - first.at).toBeLessThan(HOLD_MS);
  }, 30_000);
});
