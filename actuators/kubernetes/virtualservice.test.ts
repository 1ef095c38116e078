/**
 * The Istio VirtualService router against the in-test API server: a swap's and a spill-over's exact
 * patches of one HTTP route, the other routes and fields untouched, conflicts retried.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeKubeApi } from '../../test/harness/kube-api.ts';
import { createKubeApis, kubeConfigFor, type KubeApis } from '../../platform/kubernetes.ts';
import { virtualService } from './virtualservice.ts';

const NS = 'shop';
const VS = `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices/checkout`;
const settings = { name: 'checkout', route: 1, port: 8080, hosts: { checkout: 'checkout.shop.svc.cluster.local', 'checkout-shadow': 'checkout-shadow.shop.svc.cluster.local' } };

const adminRoute = { name: 'admin', match: [{ uri: { prefix: '/admin' } }], route: [{ destination: { host: 'admin.shop.svc.cluster.local' } }] };
const mainRoute = {
  name: 'main',
  retries: { attempts: 3, perTryTimeout: '2s' },
  timeout: '10s',
  route: [{ destination: { host: 'checkout.shop.svc.cluster.local', port: { number: 8080 } }, headers: { request: { set: { 'x-team': 'shop' } } } }],
  mirror: { host: 'checkout-shadow.shop.svc.cluster.local', port: { number: 8080 } },
  mirrorPercentage: { value: 10 },
};

let api: FakeKubeApi;
let apis: KubeApis;

beforeEach(async () => {
  api = new FakeKubeApi();
  await api.start();
  apis = createKubeApis(kubeConfigFor(api.url), { timeoutMs: 2000, retries: 3, baseDelayMs: 10 });
  api.put(VS, {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'checkout', namespace: NS },
    spec: { hosts: ['checkout.shop.svc.cluster.local'], gateways: ['mesh'], http: [adminRoute, mainRoute] },
  });
});

afterEach(async () => {
  await api.stop();
});

describe('VirtualService router', () => {
  it('observes who serves and the mirror share (a lone destination takes everything)', async () => {
    expect(await virtualService(apis, NS, settings).observe()).toEqual({ active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10, spill: 0 });
  });

  it('moves the traffic and the mirror in a swap, in one merge patch on the version read', async () => {
    const before = api.get(VS).metadata.resourceVersion;
    await virtualService(apis, NS, settings).set('checkout-shadow', 'checkout', 10);
    const writes = api.writes();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ method: 'PATCH', path: VS, contentType: 'application/merge-patch+json' });
    expect(writes[0].body.metadata).toEqual({ resourceVersion: before });
    const vs = api.get(VS);
    expect(vs.spec.http[1]).toEqual({
      ...mainRoute,
      route: [{ destination: { host: 'checkout-shadow.shop.svc.cluster.local', port: { number: 8080 } }, headers: { request: { set: { 'x-team': 'shop' } } }, weight: 100 }],
      mirror: { host: 'checkout.shop.svc.cluster.local', port: { number: 8080 } },
      mirrorPercentage: { value: 10 },
    });
    expect(vs.spec.http[0]).toEqual(adminRoute);
    expect(vs.spec.hosts).toEqual(['checkout.shop.svc.cluster.local']);
    expect(vs.spec.gateways).toEqual(['mesh']);
  });

  it('splits by destination weights without the mirror, and gives the share back with the mirror', async () => {
    const router = virtualService(apis, NS, settings);
    await router.split!('checkout', 'checkout-shadow', 0.2, 10);
    const split = api.get(VS).spec.http[1];
    expect(split.route.map((d: { destination: { host: string }; weight: number }) => [d.destination.host, d.weight])).toEqual([
      ['checkout.shop.svc.cluster.local', 80],
      ['checkout-shadow.shop.svc.cluster.local', 20],
    ]);
    expect(split.mirror).toBeUndefined();
    expect(split.mirrorPercentage).toBeUndefined();
    expect(split.retries).toEqual(mainRoute.retries);
    expect(await router.observe()).toEqual({ active: 'checkout', mirror: undefined, mirrorPercent: 0, spill: 0.2 });
    await router.split!('checkout', 'checkout-shadow', 0, 10);
    expect(await router.observe()).toEqual({ active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10, spill: 0 });
    expect(api.get(VS).spec.http[0]).toEqual(adminRoute);
  });

  it('retries a conflict on a fresh read, and names a missing route', async () => {
    api.inject((r) => r.method === 'PATCH' && r.path === VS, { status: 409 });
    await virtualService(apis, NS, settings).split!('checkout', 'checkout-shadow', 0.1, 10);
    expect(api.writes().filter((w) => w.path === VS)).toHaveLength(2);
    await expect(virtualService(apis, NS, { ...settings, route: 5 }).observe()).rejects.toThrow(/VirtualService shop\/checkout has no HTTP route 5 \(spec.http has 2\); check router.route/);
  });
});
