/**
 * The warm pool against the in-test API server running the Deployment and ReplicaSet controllers'
 * behaviour (adoption, release, deletion order): pods leaving the primary on a scale-down move to the
 * shadow, none is deleted while ready, and they are the first back on a scale-up; an idle pool shrinks
 * after its idle period; a new primary version replaces pooled pods of the old one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeKubeApi } from '../test/harness/kube-api.ts';
import { KubeControllers } from '../test/harness/kube-controllers.ts';
import { MemoryAudit } from '../alertmanager/audit.ts';
import { createKubeApis, kubeConfigFor } from '../platform/kubernetes.ts';
import { hpaRecommendation, WarmPool, type ReceiverView } from './pool.ts';
import { ShadowProvisioner } from './provisioner.ts';

const NS = 'shop';
const DEPLOY = `/apis/apps/v1/namespaces/${NS}/deployments`;
const HPA = `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/checkout`;

let api: FakeKubeApi;
let controllers: KubeControllers;
let provisioner: ShadowProvisioner;
let now = Date.parse('2026-11-23T10:00:00Z');
const view = { value: undefined as ReceiverView | undefined };
const rise = { value: undefined as boolean | undefined };
const audit = new MemoryAudit();

const labelsOf = (p: any) => p.metadata.labels as Record<string, string>;
const isReady = (p: any) => p.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True');
const selects = (selector: Record<string, string>, p: any) => Object.entries(selector).every(([k, v]) => labelsOf(p)[k] === v);
const service = (name: string) => api.get(`/api/v1/namespaces/${NS}/services/${name}`);
const allPods = () => controllers.pods(NS).map(([, p]) => p);
const servedBy = (svc: string) => allPods().filter((p) => selects(service(svc).spec.selector, p) && isReady(p)).map((p) => p.metadata.name).sort();

function hpaStatus(averageValue: string): void {
  const h = api.get(HPA);
  api.put(HPA, { ...h, status: { currentReplicas: api.get(`${DEPLOY}/checkout`).spec.replicas, currentMetrics: [{ type: 'External', external: { metric: { name: 'shadowscale_predicted_load' }, current: { averageValue } } }] } });
}

async function pass() {
  return provisioner.syncOnce();
}

beforeEach(async () => {
  api = new FakeKubeApi();
  await api.start();
  controllers = new KubeControllers(api, Infinity);
  audit.events.length = 0;
  view.value = undefined;
  rise.value = undefined;
  const apis = createKubeApis(kubeConfigFor(api.url), { timeoutMs: 2000, retries: 1 });
  const pool = new WarmPool(apis, audit, { now: () => now, receiver: () => view.value, riseExpected: async () => rise.value });
  provisioner = new ShadowProvisioner(apis, [NS], audit, pool);
  api.put(`${DEPLOY}/checkout`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'checkout', namespace: NS, generation: 1, annotations: { 'shadowscale.io/shadows': '1', 'shadowscale.io/pool-max': '4', 'shadowscale.io/pool-idle-seconds': '600' } },
    spec: {
      replicas: 6,
      selector: { matchLabels: { app: 'checkout' } },
      template: { metadata: { labels: { app: 'checkout' } }, spec: { containers: [{ name: 'app', image: 'shop/checkout:1', resources: { requests: { cpu: '1', memory: '1Gi' } } }] } },
    },
  });
  api.put(`/api/v1/namespaces/${NS}/services/checkout`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'checkout', namespace: NS }, spec: { selector: { app: 'checkout' }, ports: [{ port: 80, targetPort: 8080 }] } });
  api.hpa(NS, 'checkout', 'checkout', 2, 20, {
    metrics: [{ type: 'External', external: { metric: { name: 'shadowscale_predicted_load' }, target: { type: 'AverageValue', averageValue: '100' } } }],
    behavior: { scaleDown: { selectPolicy: 'Disabled', stabilizationWindowSeconds: 0 } },
  });
  controllers.reconcile();
  controllers.readyAll();
  // First pass: the shadow Deployment and Service are created; its pod starts.
  const report = await pass();
  expect(report.errors).toEqual([]);
  controllers.readyAll();
});
afterEach(async () => {
  controllers.stop();
  await api.stop();
});

describe('scale-down into the warm pool', () => {
  it('moves the pods leaving the primary to the shadow: adopted, none deleted while ready, none doubled', async () => {
    const primaryBefore = servedBy('checkout');
    expect(primaryBefore).toHaveLength(6);
    expect(servedBy('checkout-shadow')).toHaveLength(1);
    hpaStatus('60'); // 6 replicas at 60 % of the target: the HPA recommends 4
    const report = await pass();
    expect(report.errors).toEqual([]);
    expect(report.moved).toHaveLength(2);

    expect(api.get(`${DEPLOY}/checkout`).spec.replicas).toBe(4);
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(3);
    // The primary's Service sends to 4 of the pods it sent to before; the 2 others serve the shadow Service.
    const primaryAfter = servedBy('checkout');
    expect(primaryAfter).toHaveLength(4);
    expect(primaryAfter.every((n) => primaryBefore.includes(n))).toBe(true);
    const moved = primaryBefore.filter((n) => !primaryAfter.includes(n));
    expect(servedBy('checkout-shadow')).toEqual(expect.arrayContaining(moved));
    // Adopted by the shadow's ReplicaSet, marked as pooled.
    for (const name of moved) {
      const pod = api.get(`/api/v1/namespaces/${NS}/pods/${name}`);
      expect(pod.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'ReplicaSet', name: expect.stringMatching(/^checkout-shadow-/), controller: true })]);
      expect(pod.metadata.labels['shadowscale.io/role']).toBe('shadow');
      expect(pod.metadata.annotations['shadowscale.io/detached-from']).toBe('checkout');
    }
    // No pod was deleted while ready; the pods deleted were replacements that never started.
    expect(controllers.deleted.filter((d) => d.ready)).toEqual([]);
    // Every pod has one controller and belongs to exactly one of the two Deployments.
    controllers.readyAll();
    const pods = allPods();
    expect(pods).toHaveLength(7);
    for (const p of pods) {
      expect(p.metadata.ownerReferences.filter((r: any) => r.controller)).toHaveLength(1);
      expect(Number(selects({ app: 'checkout' }, p)) + Number(selects(api.get(`${DEPLOY}/checkout-shadow`).spec.selector.matchLabels, p))).toBe(1);
    }
    expect(audit.events.some((e: any) => e.step?.kind === 'pool' && e.step.verb === 'scale-down' && e.step.intoPool === 2)).toBe(true);
  });

  it('puts pooled pods back first when the primary scales up again', async () => {
    hpaStatus('60');
    await pass();
    controllers.readyAll();
    const pooled = allPods().filter((p) => p.metadata.annotations?.['shadowscale.io/detached-from']).map((p) => p.metadata.name);
    expect(pooled).toHaveLength(2);
    // The HPA scales the primary to 6: its ReplicaSet starts 2 new pods.
    hpaStatus('100');
    const scale = await fetch(`${api.url}${DEPLOY}/checkout/scale`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { replicas: 6 } }) });
    expect(scale.status).toBe(200);
    expect(allPods().filter((p) => !isReady(p))).toHaveLength(2);
    const deletedBefore = controllers.deleted.length;
    const report = await pass();
    expect(report.errors).toEqual([]);
    // The pooled pods serve the primary again at once; the 2 it was starting are gone; the pool is back at 1.
    expect(servedBy('checkout')).toEqual(expect.arrayContaining(pooled));
    expect(servedBy('checkout')).toHaveLength(6);
    expect(controllers.deleted.slice(deletedBefore).every((d) => !d.ready)).toBe(true);
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(1);
    controllers.readyAll();
    expect(allPods()).toHaveLength(7);
  });

  it('refuses to pool when the HPA scales down by itself, and says how to fix it', async () => {
    const h = api.get(HPA);
    api.put(HPA, { ...h, spec: { ...h.spec, behavior: {} } });
    hpaStatus('60');
    const report = await pass();
    expect(report.errors.join()).toMatch(/shop\/checkout: warm pool: HorizontalPodAutoscaler shop\/checkout scales checkout down itself; set spec.behavior.scaleDown.selectPolicy: Disabled/);
    expect(api.get(`${DEPLOY}/checkout`).spec.replicas).toBe(6);
  });
});

describe('one owner per field', () => {
  it('never writes a value computed from an older read: a scale-up during the pass is kept, nothing overwritten', async () => {
    hpaStatus('60'); // the pass will want 6 → 4
    let raised = false;
    api.onRequest = (r) => {
      // While the pass moves pods, the HPA reacts to a surge: the primary goes to 8.
      if (!raised && r.method === 'PATCH' && r.path.includes('/pods/')) {
        raised = true;
        const d = api.get(`${DEPLOY}/checkout`);
        api.put(`${DEPLOY}/checkout`, { ...d, spec: { ...d.spec, replicas: 8 } });
      }
    };
    const report = await pass();
    api.onRequest = undefined;
    expect(raised).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.aborted.join()).toMatch(/shop\/checkout: Deployment shop\/checkout has 8 replicas, not the 6 this pass read/);
    controllers.reconcile();
    expect(api.get(`${DEPLOY}/checkout`).spec.replicas).toBe(8);
    // The next pass reads again: the primary is scaling up, so the pooled pods go back first.
    controllers.reconcile();
    const again = await pass();
    expect(again.errors).toEqual([]);
    expect(api.get(`${DEPLOY}/checkout`).spec.replicas).toBe(8);
  });

  it("sizes the pool within the receiver's bounds and keeps off while the receiver acts", async () => {
    view.value = { idle: false, min: 1, max: 2 };
    hpaStatus('60');
    await pass();
    await pass();
    expect(api.get(`${DEPLOY}/checkout`).spec.replicas).toBe(6);
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(1);
    // Idle: 2 pods leave the primary, but the receiver allows the shadow 2 at most: 1 moves, 1 is removed.
    view.value = { idle: true, min: 1, max: 2 };
    const report = await pass();
    expect(report.errors).toEqual([]);
    expect(report.moved).toHaveLength(1);
    expect(api.get(`${DEPLOY}/checkout`).spec.replicas).toBe(4);
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(2);
  });
});

describe('idle de-provisioning', () => {
  beforeEach(async () => {
    hpaStatus('60');
    await pass();
    controllers.readyAll();
    hpaStatus('100');
  });

  it('shrinks the pool to its minimum after the idle period, pooled (full-size) pods first', async () => {
    now += 300_000;
    await pass();
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(3);
    now += 301_000;
    await pass();
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(1);
    const left = allPods().filter((p) => selects(api.get(`${DEPLOY}/checkout-shadow`).spec.selector.matchLabels, p));
    expect(left).toHaveLength(1);
    expect(left[0].metadata.annotations?.['shadowscale.io/detached-from']).toBeUndefined();
    expect(audit.events.some((e: any) => e.step?.verb === 'idle-shrink')).toBe(true);
  });

  it('keeps the pool while a rise is expected or the receiver acts on the workload', async () => {
    now += 700_000;
    rise.value = true;
    await pass();
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(3);
    rise.value = false;
    view.value = { idle: false, min: 1, max: 20 };
    await pass();
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(3);
    view.value = { idle: true, min: 1, max: 20 };
    await pass();
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(1);
  });

  it('replaces pooled pods of the old version when the primary rolls out a new image', async () => {
    const d = api.get(`${DEPLOY}/checkout`);
    const template = structuredClone(d.spec.template);
    template.spec.containers[0].image = 'shop/checkout:2';
    api.put(`${DEPLOY}/checkout`, { ...d, spec: { ...d.spec, template } });
    controllers.reconcile();
    controllers.readyAll();
    await pass();
    controllers.readyAll();
    const shadows = allPods().filter((p) => selects(api.get(`${DEPLOY}/checkout-shadow`).spec.selector.matchLabels, p));
    expect(shadows.length).toBe(3);
    expect(shadows.map((p) => p.spec.containers[0].image)).toEqual(['shop/checkout:2', 'shop/checkout:2', 'shop/checkout:2']);
  });
});

describe("the HPA's recommendation", () => {
  const hpa = (target: Record<string, unknown>, current: Record<string, unknown>, min = 1, max = 10) => ({
    spec: { minReplicas: min, maxReplicas: max, metrics: [{ type: 'External', external: { metric: { name: 'm' }, target } }] },
    status: { currentMetrics: [{ type: 'External', external: { metric: { name: 'm' }, current } }] },
  });
  it('follows the usage ratio, within the tolerance and the bounds', () => {
    expect(hpaRecommendation(hpa({ averageValue: '100' }, { averageValue: '60' }), 6)).toBe(4);
    expect(hpaRecommendation(hpa({ averageValue: '100' }, { averageValue: '95' }), 6)).toBe(6);
    expect(hpaRecommendation(hpa({ averageValue: '1' }, { averageValue: '500m' }), 6)).toBe(3);
    expect(hpaRecommendation(hpa({ averageValue: '100' }, { averageValue: '1' }, 2), 6)).toBe(2);
    expect(hpaRecommendation(hpa({ averageValue: '100' }, { averageValue: '900' }), 6)).toBe(10);
    expect(hpaRecommendation({ spec: { metrics: [] }, status: {} }, 6)).toBeUndefined();
  });
});
