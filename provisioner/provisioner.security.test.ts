/**
 * Security of shadow provisioning: the provisioner acts with the receiver's ServiceAccount on what
 * Deployment annotations ask, so it must not be a confused deputy. It works only in namespaces that
 * invited it, never borrows another team's Service, route or pre-created objects, and the warm pool
 * moves only pods its Deployments own. Against the in-test API server with the Deployment and
 * ReplicaSet controllers running.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeKubeApi } from '../test/harness/kube-api.ts';
import { KubeControllers } from '../test/harness/kube-controllers.ts';
import { MemoryAudit } from '../alertmanager/audit.ts';
import { createKubeApis, kubeConfigFor } from '../platform/kubernetes.ts';
import { WarmPool } from './pool.ts';
import { ShadowProvisioner } from './provisioner.ts';
import { checkShadowTemplate, REQUESTED_BY, shadowDeployment, shadowSettings, type PrimaryDeployment } from './shadow-template.ts';

const NS = 'team-a';
const DEPLOY = `/apis/apps/v1/namespaces/${NS}/deployments`;
const SVC = `/api/v1/namespaces/${NS}/services`;
const ROUTE = `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/victim-route`;

let api: FakeKubeApi;
let controllers: KubeControllers;

function deployment(ns: string, name: string, annotations: Record<string, string> = {}, selector: Record<string, unknown> = { matchLabels: { app: name } }) {
  api.put(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, generation: 1, annotations },
    spec: { replicas: 2, selector, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: `${name}:1`, resources: { requests: { cpu: '1' } } }] } } },
  });
}
function service(ns: string, name: string, selector: Record<string, string>, extra: Record<string, unknown> = {}) {
  api.put(`/api/v1/namespaces/${ns}/services/${name}`, { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, ...extra }, spec: { selector, ports: [{ port: 80 }] } });
}
const provisioner = (namespaces: string[] = [], pool?: WarmPool) => new ShadowProvisioner(createKubeApis(kubeConfigFor(api.url), { timeoutMs: 2000, retries: 0 }), namespaces, new MemoryAudit(), pool);

beforeEach(async () => {
  api = new FakeKubeApi();
  await api.start();
  controllers = new KubeControllers(api, 0);
  api.namespace(NS, { 'shadowscale.io/provisioning': 'enabled' });
  api.namespace('team-b');
  // The victim: a Deployment, its Service, and its route.
  deployment(NS, 'victim');
  service(NS, 'victim', { app: 'victim' });
  api.put(ROUTE, { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'victim-route', namespace: NS }, spec: { rules: [{ backendRefs: [{ name: 'victim', port: 80 }] }] } });
  controllers.reconcile();
});
afterEach(async () => {
  controllers.stop();
  await api.stop();
});

describe('the provisioner acts only where it was invited', () => {
  it('watches no namespace by default, only those labelled for it', async () => {
    deployment('team-b', 'api', { 'shadowscale.io/shadows': '1' });
    deployment(NS, 'shop', { 'shadowscale.io/shadows': '1' });
    const report = await provisioner().syncOnce();
    expect(report.errors).toEqual([]);
    expect(report.created).toContain(`Deployment ${NS}/shop-shadow`);
    expect(api.get('/apis/apps/v1/namespaces/team-b/deployments/api-shadow')).toBeUndefined();
  });
});

describe('the provisioner is not a confused deputy', () => {
  it("does not mirror another team's route to a Service the attacker pre-created", async () => {
    // The attacker may create Deployments and Services in the namespace, not edit the route.
    deployment(NS, 'attacker', { 'shadowscale.io/shadows': '1', 'shadowscale.io/service': 'victim', 'shadowscale.io/route': 'victim-route', 'shadowscale.io/mirror-percent': '100' });
    service(NS, 'victim-shadow', { app: 'attacker' });
    controllers.reconcile();
    const report = await provisioner().syncOnce();
    expect(report.errors.join('\n')).toMatch(`Service ${NS}/victim does not select the pods of Deployment ${NS}/attacker (annotation shadowscale.io/service); shadowscale mirrors only a Deployment's own Service`);
    expect(api.get(ROUTE).spec.rules[0].filters ?? []).toEqual([]);
    expect(api.writes().filter((w) => w.path === ROUTE)).toEqual([]);
  });

  it('never uses a shadow Service or Deployment it did not make for this primary', async () => {
    deployment(NS, 'shop', { 'shadowscale.io/shadows': '1', 'shadowscale.io/route': 'shop-route' });
    service(NS, 'shop', { app: 'shop' });
    // Someone else's Service under the shadow's name, labelled as if shadowscale had made it.
    service(NS, 'shop-shadow', { app: 'attacker' }, { labels: { 'app.kubernetes.io/managed-by': 'shadowscale' } });
    api.put(`/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/shop-route`, { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop-route', namespace: NS }, spec: { rules: [{ backendRefs: [{ name: 'shop', port: 80 }] }] } });
    controllers.reconcile();
    const report = await provisioner().syncOnce();
    expect(report.errors.join('\n')).toMatch(`Service ${NS}/shop-shadow exists and was not made by shadowscale for Deployment ${NS}/shop`);
    expect(api.get(`/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/shop-route`).spec.rules[0].filters ?? []).toEqual([]);
  });

  it('moves no pod of another Deployment into a warm pool, and refuses a selector without matchLabels', async () => {
    deployment(NS, 'wide', { 'shadowscale.io/shadows': '1', 'shadowscale.io/pool-max': '3' }, { matchExpressions: [{ key: 'app', operator: 'In', values: ['wide'] }] });
    api.hpa(NS, 'wide', 'wide', 1, 5, { behavior: { scaleDown: { selectPolicy: 'Disabled' } } });
    controllers.reconcile();
    controllers.readyAll();
    const apis = createKubeApis(kubeConfigFor(api.url), { timeoutMs: 2000, retries: 0 });
    const report = await new ShadowProvisioner(apis, [NS], new MemoryAudit(), new WarmPool(apis)).syncOnce();
    expect(report.errors.join('\n')).toMatch(`Deployment ${NS}/wide selects its pods with matchExpressions only; the warm pool needs spec.selector.matchLabels`);
    expect(api.writes().filter((w) => w.path.includes('/pods/'))).toEqual([]);
  });

  it('names who asked on what it creates, and creates no shadow that asks for more than its primary', async () => {
    deployment(NS, 'shop', { 'shadowscale.io/shadows': '1' });
    service(NS, 'shop', { app: 'shop' });
    const report = await provisioner().syncOnce();
    expect(report.errors).toEqual([]);
    expect(api.get(`${DEPLOY}/shop-shadow`).metadata.annotations[REQUESTED_BY]).toBe(`Deployment ${NS}/shop`);
    expect(api.get(`${SVC}/shop-shadow`).metadata.annotations[REQUESTED_BY]).toBe(`Deployment ${NS}/shop`);
    expect(api.writes().filter((w) => w.fieldManager !== 'shadowscale')).toEqual([]);
    const primary = api.get(`${DEPLOY}/shop`) as PrimaryDeployment;
    const shadow = shadowDeployment(primary, shadowSettings(primary)!);
    expect(() => checkShadowTemplate(primary, shadow)).not.toThrow();
    const escalated = structuredClone(shadow);
    escalated.spec.template.spec.serviceAccountName = 'cluster-admin-sa';
    expect(() => checkShadowTemplate(primary, escalated)).toThrow(`shadow of Deployment ${NS}/shop: spec.template.spec.serviceAccountName differs from the primary's; not created`);
    const privileged = structuredClone(shadow);
    privileged.spec.template.spec.containers[0].securityContext = { privileged: true };
    expect(() => checkShadowTemplate(primary, privileged)).toThrow(/spec\.template\.spec\.containers \(names, images or securityContext\) differ/);
  });
});
