/**
 * The HTTPRoute router's spill-over against the in-test API server: the exact patch of a split and of
 * its end, other rules, filters and fields untouched, a conflict retried on the route as it then is,
 * and the gateway's late acknowledgement seen by observe().
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeKubeApi } from '../../test/harness/kube-api.ts';
import { until } from '../../test/harness/wait.ts';
import { createKubeApis, kubeConfigFor, type KubeApis } from '../../platform/kubernetes.ts';
import { httpRoute } from './httproute.ts';
import { serviceRouter } from './service-router.ts';

const NS = 'shop';
const ROUTE = `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/checkout`;
const settings = { name: 'checkout', rule: 0, port: 8080, services: { checkout: 'checkout-svc', 'checkout-shadow': 'checkout-shadow-svc' } };

const headerFilter = { type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-team', value: 'shop' }] } };
const otherRule = { matches: [{ path: { type: 'PathPrefix', value: '/admin' } }], backendRefs: [{ name: 'admin', port: 9090 }] };

let api: FakeKubeApi;
let apis: KubeApis;

beforeEach(async () => {
  api = new FakeKubeApi();
  await api.start();
  apis = createKubeApis(kubeConfigFor(api.url), { timeoutMs: 2000, retries: 3, baseDelayMs: 10 });
  api.put(ROUTE, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'checkout', namespace: NS, generation: 1, labels: { team: 'shop' } },
    status: { parents: [{ parentRef: { name: 'gateway' }, conditions: [{ type: 'Accepted', status: 'True', observedGeneration: 1 }, { type: 'ResolvedRefs', status: 'True', observedGeneration: 1 }] }] },
    spec: {
      parentRefs: [{ name: 'gateway' }],
      hostnames: ['shop.example.com'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [{ kind: 'Service', name: 'checkout-svc', port: 8080 }],
          filters: [headerFilter, { type: 'RequestMirror', requestMirror: { backendRef: { name: 'checkout-shadow-svc', port: 8080 }, percent: 10 } }],
          timeouts: { request: '10s' },
        },
        otherRule,
      ],
    },
  });
});

afterEach(async () => {
  await api.stop();
});

describe('HTTPRoute spill-over', () => {
  it('splits the rule by backendRef weights and drops the mirror, in one merge patch on the version read', async () => {
    const router = httpRoute(apis, NS, settings);
    const before = api.get(ROUTE).metadata.resourceVersion;
    await router.split!('checkout', 'checkout-shadow', 0.2, 10);
    const writes = api.writes();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ method: 'PATCH', path: ROUTE, contentType: 'application/merge-patch+json', fieldManager: 'shadowscale' });
    expect(writes[0].body.metadata).toEqual({ resourceVersion: before });
    const route = api.get(ROUTE);
    expect(route.spec.rules[0]).toEqual({
      matches: [{ path: { type: 'PathPrefix', value: '/' } }],
      backendRefs: [
        { kind: 'Service', name: 'checkout-svc', port: 8080, weight: 80 },
        { kind: 'Service', name: 'checkout-shadow-svc', port: 8080, weight: 20 },
      ],
      filters: [headerFilter],
      timeouts: { request: '10s' },
    });
    // The rest of the route as it was.
    expect(route.spec.rules[1]).toEqual(otherRule);
    expect(route.spec.parentRefs).toEqual([{ name: 'gateway' }]);
    expect(route.spec.hostnames).toEqual(['shop.example.com']);
    expect(route.metadata.labels).toEqual({ team: 'shop' });
    expect(await router.observe()).toMatchObject({ active: 'checkout', mirrorPercent: 0, spill: 0.2 });
  });

  it('gives the share back: all traffic to the serving set, the mirror restored to the standby', async () => {
    const router = httpRoute(apis, NS, settings);
    await router.split!('checkout', 'checkout-shadow', 0.3, 10);
    await router.split!('checkout', 'checkout-shadow', 0, 10);
    const rule = api.get(ROUTE).spec.rules[0];
    expect(rule.backendRefs).toEqual([{ kind: 'Service', name: 'checkout-svc', port: 8080, weight: 1 }]);
    expect(rule.filters).toEqual([headerFilter, { type: 'RequestMirror', requestMirror: { backendRef: { name: 'checkout-shadow-svc', port: 8080 }, percent: 10 } }]);
    expect(await router.observe()).toMatchObject({ active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10, spill: 0 });
  });

  it('retries a conflict on the route as it is then, keeping what another writer changed', async () => {
    const router = httpRoute(apis, NS, settings);
    // Another writer has edited the other rule, and the first write is refused with a conflict (as on a
    // route changed since it was read): retried on a fresh read.
    api.inject((r) => r.method === 'PATCH' && r.path === ROUTE, { status: 409 });
    const edited = api.get(ROUTE);
    api.put(ROUTE, { ...edited, spec: { ...edited.spec, rules: [edited.spec.rules[0], { ...otherRule, backendRefs: [{ name: 'admin-v2', port: 9090 }] }] } });
    await router.split!('checkout', 'checkout-shadow', 0.1, 10);
    const route = api.get(ROUTE);
    expect(route.spec.rules[0].backendRefs.map((b: { weight: number }) => b.weight)).toEqual([90, 10]);
    expect(route.spec.rules[1].backendRefs).toEqual([{ name: 'admin-v2', port: 9090 }]);
    expect(api.writes().filter((w) => w.path === ROUTE)).toHaveLength(2);
  });

  it('reports the split as not programmed until the gateway has taken it', async () => {
    api.gatewayAckMs = 300;
    const router = httpRoute(apis, NS, settings);
    await router.split!('checkout', 'checkout-shadow', 0.2, 10);
    expect(await router.observe()).toMatchObject({ spill: 0.2, programmed: false });
    await until('the gateway to take the split', async () => (await router.observe()).programmed === true, 5000);
  });

  it('counts only the standby\'s share as spill-over, not a split to another Service', async () => {
    const route = api.get(ROUTE);
    route.spec.rules[0].backendRefs = [
      { name: 'checkout-svc', port: 8080, weight: 90 },
      { name: 'checkout-canary', port: 8080, weight: 10 },
    ];
    api.put(ROUTE, route);
    expect(await httpRoute(apis, NS, settings).observe()).toMatchObject({ active: 'checkout', spill: 0 });
  });

  it('refuses a share outside [0, 1), naming the route, and writes nothing', async () => {
    const router = httpRoute(apis, NS, settings);
    await expect(router.split!('checkout', 'checkout-shadow', 1, 10)).rejects.toThrow(/HTTPRoute shop\/checkout: a spill share must be in \[0, 1\), got 1/);
    expect(api.writes()).toHaveLength(0);
  });

  it('is not offered by a Service selector, which picks one set', () => {
    const router = serviceRouter(apis, NS, { name: 'checkout', selectorKey: 'role', values: { checkout: 'primary', 'checkout-shadow': 'shadow' }, mirrorPercent: 10 });
    expect(router.split).toBeUndefined();
  });
});
