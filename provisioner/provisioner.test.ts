import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeKubeApi } from '../test/harness/kube-api.ts';
import { MemoryAudit } from '../alertmanager/audit.ts';
import { createKubeApis, kubeConfigFor } from '../platform/kubernetes.ts';
import { ShadowProvisioner } from './provisioner.ts';
import { scaleQuantity, shadowSettings } from './shadow-template.ts';
import { parseQuantity } from '../platform/quantity.ts';

const NS = 'shop';
const DEPLOY = `/apis/apps/v1/namespaces/${NS}/deployments`;
const ROUTE = `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/checkout`;

let api: FakeKubeApi;
let provisioner: ShadowProvisioner;
const audit = new MemoryAudit();

function primary(annotations: Record<string, string>, image = 'shop/checkout:1.4.0') {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'checkout', namespace: NS, labels: { app: 'checkout', team: 'shop' }, annotations },
    spec: {
      replicas: 6,
      selector: { matchLabels: { app: 'checkout' } },
      template: {
        metadata: { labels: { app: 'checkout', version: 'v1' } },
        spec: {
          containers: [
            {
              name: 'app',
              image,
              env: [{ name: 'DB_URL', valueFrom: { secretKeyRef: { name: 'checkout-db', key: 'url' } } }],
              envFrom: [{ configMapRef: { name: 'checkout-config' } }],
              readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
              resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '2', memory: '1Gi' } },
            },
          ],
        },
      },
    },
    status: { replicas: 6, readyReplicas: 6 },
  };
}

beforeEach(async () => {
  api = new FakeKubeApi();
  await api.start();
  audit.events.length = 0;
  provisioner = new ShadowProvisioner(createKubeApis(kubeConfigFor(api.url), { timeoutMs: 2000, retries: 1 }), [NS], audit);
  api.put(`${DEPLOY}/checkout`, primary({ 'shadowscale.io/shadows': '2', 'shadowscale.io/mirror-percent': '10', 'shadowscale.io/shadow-resources': '0.5', 'shadowscale.io/route': 'checkout' }));
  api.put(`/api/v1/namespaces/${NS}/services/checkout`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'checkout', namespace: NS }, spec: { selector: { app: 'checkout' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  api.put(ROUTE, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'checkout', namespace: NS },
    spec: { parentRefs: [{ name: 'gw' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'checkout', port: 80 }] }] },
  });
  // Another Deployment without the annotation: left alone.
  api.deployment(NS, 'cart', 2);
});
afterEach(async () => {
  await api.stop();
});

describe('shadow provisioning from annotations', () => {
  it('creates the shadow Deployment with the primary template at half the resources, its Service and the mirror', async () => {
    const report = await provisioner.syncOnce();
    expect(report).toMatchObject({ primaries: 1, errors: [] });
    expect(report.created).toEqual(['Deployment shop/checkout-shadow', 'Service shop/checkout-shadow']);
    const shadow = api.get(`${DEPLOY}/checkout-shadow`);
    const owner = api.get(`${DEPLOY}/checkout`);
    expect(shadow.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout', uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(shadow.spec.replicas).toBe(2);
    // Its pods match neither the primary's selector nor its Service.
    expect(shadow.spec.selector.matchLabels).toEqual({ app: 'checkout-shadow', 'shadowscale.io/role': 'shadow' });
    expect(shadow.spec.template.metadata.labels).toEqual({ app: 'checkout-shadow', version: 'v1', 'shadowscale.io/role': 'shadow', 'shadowscale.io/shadow-of': 'checkout' });
    const container = shadow.spec.template.spec.containers[0];
    const original = owner.spec.template.spec.containers[0];
    expect(container.image).toBe('shop/checkout:1.4.0');
    expect(container.env).toEqual(original.env);
    expect(container.envFrom).toEqual(original.envFrom);
    expect(container.readinessProbe).toEqual(original.readinessProbe);
    expect(container.resources).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } });
    const svc = api.get(`/api/v1/namespaces/${NS}/services/checkout-shadow`);
    expect(svc.spec).toEqual({ ports: [{ name: 'http', port: 80, targetPort: 8080 }], selector: { app: 'checkout-shadow', 'shadowscale.io/role': 'shadow' } });
    expect(api.get(ROUTE).spec.rules[0].filters).toEqual([{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'checkout-shadow', port: 80 }, percent: 10 } }]);
    expect(api.get(ROUTE).spec.rules[0].backendRefs).toEqual([{ name: 'checkout', port: 80 }]);
    expect(api.get(`${DEPLOY}/cart-shadow`)).toBeUndefined();
  });

  it('changes nothing on a second pass', async () => {
    await provisioner.syncOnce();
    const writes = api.writes().length;
    const report = await provisioner.syncOnce();
    expect(report).toMatchObject({ created: [], updated: [], errors: [] });
    expect(api.writes()).toHaveLength(writes);
  });

  it('carries a new image of the primary to the shadow at the next pass, keeping the pool size', async () => {
    await provisioner.syncOnce();
    const scale = api.get(`${DEPLOY}/checkout-shadow`);
    api.put(`${DEPLOY}/checkout-shadow`, { ...scale, spec: { ...scale.spec, replicas: 4 } });
    const current = api.get(`${DEPLOY}/checkout`);
    api.put(`${DEPLOY}/checkout`, { ...primary(current.metadata.annotations, 'shop/checkout:1.5.0'), metadata: current.metadata });
    const report = await provisioner.syncOnce();
    expect(report.updated).toEqual(['Deployment shop/checkout-shadow']);
    const shadow = api.get(`${DEPLOY}/checkout-shadow`);
    expect(shadow.spec.template.spec.containers[0].image).toBe('shop/checkout:1.5.0');
    expect(shadow.spec.replicas).toBe(4);
    expect(audit.events.some((e) => e.event === 'action' && (e.step as any).verb === 'update')).toBe(true);
  });

  it('reports a bad annotation by name and goes on with the other primaries', async () => {
    api.put(`${DEPLOY}/search`, { ...primary({ 'shadowscale.io/shadows': '1', 'shadowscale.io/shadow-resources': '2' }), metadata: { name: 'search', namespace: NS, annotations: { 'shadowscale.io/shadows': 'two' } } });
    const report = await provisioner.syncOnce();
    expect(report.errors).toEqual(['Deployment shop/search: annotation shadowscale.io/shadows: "two" is not a whole number from 0 to 100']);
    expect(api.get(`${DEPLOY}/checkout-shadow`)).toBeDefined();
  });

  it('never takes over a Deployment it did not create', async () => {
    api.deployment(NS, 'checkout-shadow', 1);
    const report = await provisioner.syncOnce();
    expect(report.errors[0]).toMatch(/Deployment shop\/checkout-shadow exists and was not made by shadowscale for Deployment shop\/checkout/);
  });
});

describe('what a shadow carries over for the day it serves', () => {
  const PDBS = `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets`;

  it("copies the primary's rollout strategy and minReadySeconds", async () => {
    const p = primary({ 'shadowscale.io/shadows': '1' });
    api.put(`${DEPLOY}/checkout`, { ...p, spec: { ...p.spec, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } }, minReadySeconds: 10 } });
    await provisioner.syncOnce();
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec).toMatchObject({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } }, minReadySeconds: 10 });
  });

  it("mirrors the PodDisruptionBudget that covers the primary's pods, once", async () => {
    api.put(`${PDBS}/checkout`, { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'checkout', namespace: NS }, spec: { selector: { matchLabels: { app: 'checkout' } }, maxUnavailable: '25%' } });
    const report = await provisioner.syncOnce();
    expect(report.created).toContain(`PodDisruptionBudget ${NS}/checkout-shadow`);
    const pdb = api.get(`${PDBS}/checkout-shadow`);
    expect(pdb.spec).toEqual({ selector: { matchLabels: { app: 'checkout-shadow', 'shadowscale.io/role': 'shadow' } }, maxUnavailable: '25%' });
    // It selects the shadow's pods, not the primary's.
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
    expect(pdb.metadata.ownerReferences[0]).toMatchObject({ kind: 'Deployment', name: 'checkout' });
    expect((await provisioner.syncOnce()).created).toEqual([]);
  });

  it('turns an absolute minAvailable into maxUnavailable 1, so a pool of one warm pod never blocks a node drain', async () => {
    api.put(`${PDBS}/checkout`, { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'checkout', namespace: NS }, spec: { selector: { matchLabels: { app: 'checkout' } }, minAvailable: 4 } });
    await provisioner.syncOnce();
    expect(api.get(`${PDBS}/checkout-shadow`).spec).toMatchObject({ maxUnavailable: 1 });
    expect(api.get(`${PDBS}/checkout-shadow`).spec.minAvailable).toBeUndefined();
  });

  it('makes none when no budget covers the primary', async () => {
    api.put(`${PDBS}/cart`, { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'cart', namespace: NS }, spec: { selector: { matchLabels: { app: 'cart' } }, maxUnavailable: 1 } });
    await provisioner.syncOnce();
    expect(api.get(`${PDBS}/checkout-shadow`)).toBeUndefined();
  });
});

describe('quantities', () => {
  it('parses and scales CPU and memory', () => {
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('1Gi')).toBe(2 ** 30);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(scaleQuantity('1', 0.3, 'cpu')).toBe('300m');
    expect(scaleQuantity('100Mi', 0.5, 'memory')).toBe('50Mi');
    expect(scaleQuantity('10Mi', 0.25, 'memory')).toBe('2560Ki');
    expect(scaleQuantity('1001', 0.5, 'memory')).toBe('501');
    expect(() => parseQuantity('lots')).toThrow(/not a Kubernetes quantity/);
  });
  it('reads the annotations with defaults', () => {
    expect(shadowSettings({ metadata: { name: 'a', annotations: { 'shadowscale.io/shadows': '3' } } })).toEqual({ shadows: 3, poolMax: 3, poolIdleSeconds: 600, hpa: 'a', mirrorPercent: 10, resourceFraction: 0.5, route: undefined, service: 'a' });
    expect(() => shadowSettings({ metadata: { name: 'a', namespace: 'n', annotations: { 'shadowscale.io/shadows': '3', 'shadowscale.io/pool-max': '2' } } })).toThrow(
      'Deployment n/a: annotation shadowscale.io/pool-max: "2" is not a whole number from 3 (shadowscale.io/shadows) to 1000',
    );
    expect(shadowSettings({ metadata: { name: 'a', annotations: {} } })).toBeUndefined();
  });
});
