/**
 * The Deployment and ReplicaSet controllers of kube-controller-manager, reduced to what the warm pool
 * relies on, running inside the in-test API server after every write (pkg/controller/deployment,
 * pkg/controller/replicaset):
 * - a Deployment owns one ReplicaSet per pod template, named `<deployment>-<pod-template-hash>`, whose
 *   selector and pods carry `pod-template-hash`; on a template change the new ReplicaSet gets the
 *   replicas and the old ones go to 0;
 * - a ReplicaSet releases the pods it owns that no longer match its selector (removes its
 *   ownerReference), adopts orphan pods that match, then creates or deletes pods to reach its
 *   replicas, deleting in the real order of preference: not ready before ready, lower
 *   `controller.kubernetes.io/pod-deletion-cost` first, ready for less time first, newer first;
 * - a new pod becomes ready after `readyAfterMs` (Infinity: when the test calls `readyAll()`).
 * Every pod deleted is recorded with whether it was ready and selected by a Service at that moment
 * ("killed while serving").
 */
import { createHash } from 'node:crypto';

import type { FakeKubeApi } from './kube-api.ts';

export interface DeletedPod {
  name: string;
  owner: string;
  ready: boolean;
  /** Ready and selected by a Service of its namespace when deleted. */
  serving: boolean;
}

const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const isReady = (pod: any) => pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ?? false;

export class KubeControllers {
  readonly deleted: DeletedPod[] = [];
  readonly created: string[] = [];
  private sequence = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  private readonly sliceTimers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly api: FakeKubeApi,
    private readonly readyAfterMs = 100,
    private readonly options: {
      /**
       * The EndpointSlice controller: each Service with a selector has one EndpointSlice listing the
       * pods it selects (ready, serving, terminating conditions), written this many ms after a change
       * (undefined: no EndpointSlices at all).
       */
      endpointsDelayMs?: number;
      /** A deleted pod stays, terminating (deletionTimestamp set, not ready), this many ms (0: gone at once). */
      terminationMs?: number;
    } = {},
  ) {
    api.addController(() => this.reconcile());
  }
  private stopped = false;

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    for (const t of this.sliceTimers.values()) clearTimeout(t);
    this.stopped = true;
  }

  /** Every pod not ready yet becomes ready now. */
  readyAll(): void {
    for (const [path, pod] of [...this.api.objects]) if (path.includes('/pods/') && !isReady(pod)) this.markReady(path);
    this.reconcile();
  }

  private markReady(path: string): void {
    const pod = this.api.get(path);
    if (pod) this.api.put(path, { ...pod, status: { phase: 'Running', readyAt: new Date().toISOString(), conditions: [{ type: 'Ready', status: 'True' }] } });
  }

  /** Pods of a namespace, by path. */
  pods(namespace: string): Array<[string, any]> {
    return [...this.api.objects].filter(([p]) => p.startsWith(`/api/v1/namespaces/${namespace}/pods/`));
  }

  /** Runs every controller until nothing changes. */
  reconcile(): void {
    if (this.stopped) return;
    for (let round = 0; round < 10; round++) {
      const before = this.api.objects.size + [...this.api.objects.values()].reduce((n, o) => n + Number(o.metadata.resourceVersion), 0);
      for (const [path, d] of [...this.api.objects]) if (/\/apis\/apps\/v1\/namespaces\/[^/]+\/deployments\/[^/]+$/.test(path)) this.deployment(d);
      for (const [path, rs] of [...this.api.objects]) if (/\/replicasets\/[^/]+$/.test(path)) this.replicaSet(path, rs);
      for (const [path, d] of [...this.api.objects]) if (/\/apis\/apps\/v1\/namespaces\/[^/]+\/deployments\/[^/]+$/.test(path)) this.deploymentStatus(path, d);
      if (this.options.endpointsDelayMs !== undefined) for (const [, svc] of [...this.api.objects].filter(([p]) => /^\/api\/v1\/namespaces\/[^/]+\/services\/[^/]+$/.test(p))) this.endpoints(svc);
      const after = this.api.objects.size + [...this.api.objects.values()].reduce((n, o) => n + Number(o.metadata.resourceVersion), 0);
      if (after === before) return;
    }
  }

  private deployment(d: any): void {
    const ns = d.metadata.namespace;
    const hash = createHash('sha256').update(JSON.stringify(d.spec.template)).digest('hex').slice(0, 10);
    const name = `${d.metadata.name}-${hash}`;
    const base = `/apis/apps/v1/namespaces/${ns}/replicasets`;
    const owned = [...this.api.objects].filter(([p, o]) => p.startsWith(`${base}/`) && o.metadata.ownerReferences?.some((r: any) => r.uid === d.metadata.uid));
    for (const [p, rs] of owned) {
      const replicas = rs.metadata.name === name ? d.spec.replicas : 0;
      if (rs.spec.replicas !== replicas) this.api.put(p, { ...rs, spec: { ...rs.spec, replicas } });
    }
    if (!owned.some(([, rs]) => rs.metadata.name === name)) {
      const labels = { ...(d.spec.template.metadata?.labels ?? {}), 'pod-template-hash': hash };
      this.api.put(`${base}/${name}`, {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name,
          namespace: ns,
          labels,
          annotations: { 'deployment.kubernetes.io/revision': String(owned.length + 1) },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name, uid: d.metadata.uid, controller: true }],
        },
        spec: { replicas: d.spec.replicas, selector: { matchLabels: { ...d.spec.selector.matchLabels, 'pod-template-hash': hash } }, template: { ...d.spec.template, metadata: { ...(d.spec.template.metadata ?? {}), labels } } },
      });
    }
  }

  private replicaSet(path: string, rs: any): void {
    const ns = rs.metadata.namespace;
    const selector = rs.spec.selector.matchLabels;
    const ownedBy = (p: any) => p.metadata.ownerReferences?.find((r: any) => r.controller)?.uid;
    for (const [p, pod] of this.pods(ns)) {
      const owner = ownedBy(pod);
      if (owner === rs.metadata.uid && !matches(selector, pod.metadata.labels)) {
        const { ownerReferences: _released, ...metadata } = pod.metadata;
        this.api.put(p, { ...pod, metadata });
      } else if (owner === undefined && matches(selector, pod.metadata.labels) && !pod.metadata.deletionTimestamp) {
        this.api.put(p, { ...pod, metadata: { ...pod.metadata, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid, controller: true }] } });
      }
    }
    const active = (pod: any) => !pod.metadata.deletionTimestamp;
    const mine = this.pods(ns).filter(([, pod]) => ownedBy(pod) === rs.metadata.uid && active(pod));
    const diff = mine.length - rs.spec.replicas;
    for (let i = diff; i < 0; i++) this.createPod(rs);
    if (diff > 0) {
      const rank = (pod: any) => [isReady(pod) ? 1 : 0, Number(pod.metadata.annotations?.[DELETION_COST] ?? 0), -Date.parse(pod.status?.readyAt ?? pod.metadata.creationTimestamp), -pod.metadata.sequence];
      const order = [...mine].sort(([, a], [, b]) => {
        const ra = rank(a);
        const rb = rank(b);
        for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i] - rb[i];
        return 0;
      });
      for (const [p, pod] of order.slice(0, diff)) this.deletePod(p, pod, rs.metadata.name);
    }
    const ready = this.pods(ns).filter(([, pod]) => ownedBy(pod) === rs.metadata.uid && active(pod) && isReady(pod)).length;
    const count = this.pods(ns).filter(([, pod]) => ownedBy(pod) === rs.metadata.uid && active(pod)).length;
    if (rs.status?.replicas !== count || rs.status?.readyReplicas !== ready) this.api.put(path, { ...this.api.get(path), status: { replicas: count, readyReplicas: ready } });
  }

  private deploymentStatus(path: string, d: any): void {
    const pods = this.pods(d.metadata.namespace)
      .map(([, p]) => p)
      .filter((p) => {
        if (p.metadata.deletionTimestamp) return false;
        const owner = p.metadata.ownerReferences?.find((r: any) => r.controller)?.name;
        const rs = owner && this.api.get(`/apis/apps/v1/namespaces/${d.metadata.namespace}/replicasets/${owner}`);
        return rs?.metadata.ownerReferences?.some((r: any) => r.uid === d.metadata.uid);
      });
    const status = { ...(d.status ?? {}), replicas: pods.length, readyReplicas: pods.filter(isReady).length, availableReplicas: pods.filter(isReady).length, observedGeneration: d.metadata.generation ?? 1 };
    if (JSON.stringify(status) !== JSON.stringify(d.status)) this.api.put(path, { ...d, status });
  }

  private createPod(rs: any): void {
    const ns = rs.metadata.namespace;
    const seq = ++this.sequence;
    const name = `${rs.metadata.name}-${seq.toString(36).padStart(5, '0')}`;
    const path = `/api/v1/namespaces/${ns}/pods/${name}`;
    this.api.put(path, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: ns,
        sequence: seq,
        creationTimestamp: new Date().toISOString(),
        labels: { ...(rs.spec.template.metadata?.labels ?? {}) },
        annotations: { ...(rs.spec.template.metadata?.annotations ?? {}) },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid, controller: true }],
      },
      spec: structuredClone(rs.spec.template.spec),
      status: { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }] },
    });
    this.created.push(name);
    const ready = () => {
      this.markReady(path);
      this.reconcile();
    };
    if (this.readyAfterMs === Infinity) return;
    if (this.readyAfterMs <= 0) ready();
    else {
      const t = setTimeout(() => {
        this.timers.delete(t);
        ready();
      }, this.readyAfterMs);
      this.timers.add(t);
    }
  }

  private deletePod(path: string, pod: any, owner: string): void {
    const ns = pod.metadata.namespace;
    const services = [...this.api.objects].filter(([p]) => p.startsWith(`/api/v1/namespaces/${ns}/services/`)).map(([, s]) => s);
    const serving = isReady(pod) && services.some((s) => s.spec?.selector && matches(s.spec.selector, pod.metadata.labels));
    this.deleted.push({ name: pod.metadata.name, owner, ready: isReady(pod), serving });
    const grace = this.options.terminationMs ?? 0;
    if (grace <= 0) {
      this.api.remove(path);
      return;
    }
    // Terminating: still listed, no longer ready; gone after its grace period.
    this.api.put(path, { ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date().toISOString() }, status: { ...pod.status, conditions: [{ type: 'Ready', status: 'False' }] } });
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.api.remove(path);
      this.reconcile();
    }, grace);
    this.timers.add(t);
  }

  /** The EndpointSlice of a Service: what its selector picks now, written `endpointsDelayMs` after it changes. */
  private endpoints(svc: any): void {
    const selector = svc.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) return;
    const ns = svc.metadata.namespace;
    const name = `${svc.metadata.name}-slice`;
    const path = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${name}`;
    const want = () =>
      this.pods(ns)
        .map(([, p]) => p)
        .filter((p) => matches(selector, p.metadata.labels))
        .map((p) => {
          const terminating = Boolean(p.metadata.deletionTimestamp);
          return { addresses: [`10.0.0.${p.metadata.sequence ?? 1}`], conditions: { ready: isReady(p) && !terminating, serving: isReady(p) || terminating, terminating }, targetRef: { kind: 'Pod', name: p.metadata.name, namespace: ns } };
        })
        .sort((a, b) => a.targetRef.name.localeCompare(b.targetRef.name));
    const write = () => {
      const current = this.api.get(path);
      const endpoints = want();
      if (current && JSON.stringify(current.endpoints) === JSON.stringify(endpoints)) return;
      this.api.put(path, { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': svc.metadata.name } }, addressType: 'IPv4', endpoints });
    };
    const current = this.api.get(path);
    if (current && JSON.stringify(current.endpoints) === JSON.stringify(want())) return;
    const delay = this.options.endpointsDelayMs ?? 0;
    if (delay <= 0) return write();
    if (this.sliceTimers.has(path)) return;
    const t = setTimeout(() => {
      this.sliceTimers.delete(path);
      write();
    }, delay);
    this.sliceTimers.set(path, t);
  }
}
