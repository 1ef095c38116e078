/**
 * The autoscaling controllers of a cluster, reduced to what the receiver must live with, running in
 * the in-test API server after every write:
 * - **the HPA controller** (pkg/controller/podautoscaler): every HPA keeps its target at its metrics'
 *   recommendation, clamped to `minReplicas`..`maxReplicas`. A direct scale write to its target is
 *   overwritten, a raised floor scales the target up, a retargeted HPA takes over the new target.
 *   The recommendation is the replicas the target had when the HPA took it over (the load it
 *   measured then). `behavior.scaleDown.selectPolicy: Disabled` keeps it from scaling down. Its
 *   status says what it decided.
 * - **KEDA's operator**: a ScaledObject owns the HPA `keda-hpa-<name>` (ownerReference, controller)
 *   built from it; any change made to that HPA by someone else is reverted.
 */
import type { FakeKubeApi } from './kube-api.ts';

const HPA_RE = /^\/apis\/autoscaling\/v2\/namespaces\/([^/]+)\/horizontalpodautoscalers\/[^/]+$/;
const SO_RE = /^\/apis\/keda\.sh\/v1alpha1\/namespaces\/([^/]+)\/scaledobjects\/[^/]+$/;

export class AutoscalerControllers {
  /** The replicas an HPA's metrics ask for, by HPA name (`namespace/name`): what it measured when it took its target over. */
  private readonly recommendations = new Map<string, number>();
  /** Which target each HPA last scaled. */
  private readonly targets = new Map<string, string>();

  constructor(private readonly api: FakeKubeApi) {
    api.addController(() => this.reconcile());
    this.reconcile();
  }

  reconcile(): void {
    for (const [, so] of [...this.api.objects].filter(([p]) => SO_RE.test(p))) this.keda(so);
    for (const [path, hpa] of [...this.api.objects].filter(([p]) => HPA_RE.test(p))) this.hpa(path, hpa);
  }

  private keda(so: any): void {
    const ns = so.metadata.namespace;
    const name = `keda-hpa-${so.metadata.name}`;
    const hpaPath = `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/${name}`;
    const spec = {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: so.spec.scaleTargetRef?.kind ?? 'Deployment', name: so.spec.scaleTargetRef?.name },
      minReplicas: so.spec.minReplicaCount ?? 1,
      maxReplicas: so.spec.maxReplicaCount ?? 100,
      metrics: [{ type: 'External', external: { metric: { name: 's0-shadowscale', selector: { matchLabels: { 'scaledobject.keda.sh/name': so.metadata.name } } }, target: { type: 'AverageValue', averageValue: '1' } } }],
    };
    const current = this.api.get(hpaPath);
    if (current && JSON.stringify(current.spec) === JSON.stringify(spec)) return;
    this.api.put(hpaPath, {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { ...(current?.metadata ?? {}), name, namespace: ns, ownerReferences: [{ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', name: so.metadata.name, uid: so.metadata.uid, controller: true, blockOwnerDeletion: true }] },
      spec,
      ...(current?.status ? { status: current.status } : {}),
    });
  }

  private hpa(path: string, hpa: any): void {
    const [, ns] = HPA_RE.exec(path)!;
    const key = `${ns}/${hpa.metadata.name}`;
    const ref = hpa.spec?.scaleTargetRef ?? {};
    const targetPath = `/apis/apps/v1/namespaces/${ns}/${ref.kind === 'StatefulSet' ? 'statefulsets' : 'deployments'}/${ref.name}`;
    const target = this.api.get(targetPath);
    if (!target) return;
    const current = target.spec?.replicas ?? 1;
    if (this.targets.get(key) !== ref.name) {
      // A new target: the load the HPA measures is, for now, what that target runs at.
      this.targets.set(key, ref.name);
      this.recommendations.set(key, current);
    }
    const recommended = this.recommendations.get(key) ?? current;
    let desired = Math.min(hpa.spec.maxReplicas ?? Infinity, Math.max(hpa.spec.minReplicas ?? 1, recommended));
    if (desired < current && hpa.spec.behavior?.scaleDown?.selectPolicy === 'Disabled') desired = current;
    if (desired !== current) this.api.setReplicas(targetPath, desired);
    const status = { currentReplicas: current, desiredReplicas: desired };
    if (JSON.stringify(hpa.status ?? {}) !== JSON.stringify({ ...(hpa.status ?? {}), ...status })) this.api.put(path, { ...this.api.get(path), status: { ...(hpa.status ?? {}), ...status } });
  }
}
