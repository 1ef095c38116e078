/**
 * The warm pool of a primary (annotation `shadowscale.io/pool-max` above `shadowscale.io/shadows`):
 *
 * - **Scale-down into the pool.** The primary's HPA does not scale it down itself (its
 *   `behavior.scaleDown.selectPolicy: Disabled`); this loop computes the HPA's own scale-down
 *   recommendation from the HPA's status (the same algorithm: usage ratio of each metric against its
 *   target, tolerance 0.1, the highest recommendation over the scale-down stabilization window) and
 *   carries it out by moving ready pods from the primary to the shadow instead of deleting them:
 *   1. the shadow Deployment grows by the pods to move (its ReplicaSet starts new pods),
 *   2. each moving pod is relabelled to the shadow ReplicaSet's labels (`pod-template-hash`
 *      included) and loses its ownerReference: the primary's ReplicaSet no longer selects it (nor does
 *      the primary's Service), the shadow's ReplicaSet adopts it and deletes a pod it has not yet
 *      started instead (not-ready pods go first),
 *   3. the primary shrinks by the same number: its ReplicaSet deletes the replacements it began in
 *      the meantime, never a ready pod.
 *   Pods beyond the pool's room are removed the usual way (the primary shrinks further).
 * - **Back first on a scale-up.** When the HPA scales the primary up and its new pods are not ready
 *   yet, pods moved into the pool from the same template version are relabelled back: the primary's
 *   ReplicaSet adopts them (and deletes the pods it was starting), the shadow shrinks by as many.
 * - **Idle de-provisioning.** A pool above `shadows` that has not grown or been used for
 *   `pool-idle-seconds`, and whose workload expects no rise (when a forecast is known), shrinks back
 *   to `shadows`; moved pods (full-size) carry a lower `controller.kubernetes.io/pod-deletion-cost`,
 *   so they go first.
 *
 * Level-triggered like the provisioner: every pass reads the objects and does at most one move per
 * primary; whatever a crash interrupts is finished or undone by the next pass (a relabelled pod is
 * simply counted where its labels put it).
 */
import { DEFAULT_TOLERANCE, replicasForRatio } from '../core/hpa.ts';
import type { Audit } from '../alertmanager/audit.ts';
import { StaleObservation } from '../actuators/target.ts';
import { isNotFound, type KubeApis } from '../platform/kubernetes.ts';
import { shadowName, type PrimaryDeployment, type ShadowSettings } from './shadow-template.ts';
import { ANNOTATIONS, ROLE_LABEL } from '../core/labels.ts';
import { parseQuantity } from '../platform/quantity.ts';

const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
const HASH = 'pod-template-hash';

/** One metric of an HPA: its current value against its target, as a usage ratio. */
export function usageRatios(hpa: any): number[] {
  const ratios: number[] = [];
  const specs: any[] = hpa.spec?.metrics ?? [];
  for (const current of hpa.status?.currentMetrics ?? []) {
    const type = current.type as string;
    const key = type.charAt(0).toLowerCase() + type.slice(1);
    const cur = current[key];
    const spec = specs.find((m) => m.type === type && JSON.stringify(metricId(m[key])) === JSON.stringify(metricId(cur)))?.[key];
    if (!cur || !spec) continue;
    const t = spec.target ?? {};
    const c = cur.current ?? {};
    let ratio: number | undefined;
    if (t.averageUtilization !== undefined && c.averageUtilization !== undefined) ratio = c.averageUtilization / t.averageUtilization;
    else if (t.averageValue !== undefined && c.averageValue !== undefined) ratio = parseQuantity(String(c.averageValue)) / parseQuantity(String(t.averageValue));
    else if (t.value !== undefined && c.value !== undefined) ratio = parseQuantity(String(c.value)) / parseQuantity(String(t.value));
    if (ratio !== undefined && Number.isFinite(ratio)) ratios.push(ratio);
  }
  return ratios;
}

function metricId(m: any): unknown {
  return { name: m?.metric?.name ?? m?.name, selector: m?.metric?.selector ?? null, describedObject: m?.describedObject?.name ?? null };
}

/** The HPA's replica recommendation for `current` replicas (replica_calculator.go), or undefined without metrics. */
export function hpaRecommendation(hpa: any, current: number, tolerance = DEFAULT_TOLERANCE): number | undefined {
  const ratios = usageRatios(hpa);
  if (ratios.length === 0 || current <= 0) return undefined;
  const each = ratios.map((r) => replicasForRatio(r, current, tolerance));
  const min = hpa.spec?.minReplicas ?? 1;
  const max = hpa.spec?.maxReplicas ?? Infinity;
  return Math.min(max, Math.max(min, ...each));
}

/** What a pass did: pods moved (`pod → Deployment`), moves not taken because a set changed meanwhile, errors by primary. */
export interface PoolReport {
  moved: string[];
  aborted: string[];
  errors: string[];
}

/** The receiver's view of a primary it is configured for: one notion of the shadow's size for both. */
export interface ReceiverView {
  /** Nothing to act on (no alert, no prescale cooldown, no swap): only then does the pool change the shadow. */
  idle: boolean;
  /** The shadow's least and greatest size while idle (`shadow.minReplicas`, `shadow.maxReplicas`). */
  min: number;
  max: number;
}

interface Options {
  now?: () => number;
  /** The receiver's view of the primary `name`, when the receiver is configured for it. */
  receiver?: (namespace: string, name: string) => ReceiverView | undefined | Promise<ReceiverView | undefined>;
  /** Runs a pass for one primary on the receiver's lock of its workload (the two never act at once). */
  exclusive?: <T>(namespace: string, name: string, fn: () => Promise<T>) => Promise<T>;
  /** Throws when this replica may no longer write (it lost the Lease); called before every write. */
  fence?: (before: string) => void;
  /** Does the forecast ask for more than the primary's `replicas`? undefined = unknown. */
  riseExpected?: (namespace: string, name: string, replicas: number) => Promise<boolean | undefined>;
}

export class WarmPool {
  /** Scale-down recommendations per primary, newest last (the HPA's stabilization window). */
  private readonly recommendations = new Map<string, Array<{ at: number; replicas: number; first: number }>>();

  constructor(
    private readonly apis: KubeApis,
    private readonly audit?: Audit,
    private readonly options: Options = {},
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** One pass for one primary with pool settings. Never throws: errors go to the report. */
  async sync(primary: PrimaryDeployment, annotated: ShadowSettings, report: PoolReport): Promise<void> {
    const { namespace, name } = primary.metadata;
    const exclusive = this.options.exclusive ?? ((_ns: string, _name: string, fn: () => Promise<void>) => fn());
    await exclusive(namespace, name, () => this.syncNow(primary, annotated, report));
  }

  private async syncNow(primary: PrimaryDeployment, annotated: ShadowSettings, report: PoolReport): Promise<void> {
    const { namespace, name } = primary.metadata;
    const where = `${namespace}/${name}`;
    let settings = annotated;
    try {
      const view = await this.options.receiver?.(namespace, name);
      if (view) {
        // The receiver acts on this workload: the pool keeps off until it is idle again, and sizes the
        // shadow within the receiver's bounds, so that neither undoes the other.
        if (!view.idle) return;
        settings = { ...annotated, shadows: Math.max(view.min, 0), poolMax: Math.min(annotated.poolMax, view.max) };
      }
      if (settings.poolMax <= settings.shadows) return;
      const shadow = await this.apis.retry(`read Deployment ${namespace}/${shadowName(name)}`, () => this.apis.apps.readNamespacedDeployment({ name: shadowName(name), namespace }, this.apis.options()));
      const [primaryRs, shadowRs] = await Promise.all([this.currentReplicaSet(primary), this.currentReplicaSet(shadow as any)]);
      if (!primaryRs || !shadowRs) return; // the Deployment controller has not made them yet
      if (Object.keys(primary.spec.selector.matchLabels ?? {}).length === 0) {
        throw new Error(`Deployment ${where} selects its pods with matchExpressions only; the warm pool needs spec.selector.matchLabels to move pods between it and its shadow`);
      }
      const [primaryPods, shadowPods] = await Promise.all([this.podsOf(primary), this.podsOf(shadow as unknown as PrimaryDeployment)]);
      const primarySpec = primary.spec.replicas ?? 1;
      const shadowSpec = shadow.spec?.replicas ?? 0;
      const primaryHash = primaryRs.metadata.labels?.[HASH];

      // Back first: the primary is scaling up and pool pods of its current version can serve now.
      const starting = primaryPods.filter((p) => !ready(p)).length;
      const returnable = shadowPods.filter((p) => ready(p) && p.metadata.annotations?.[ANNOTATIONS.detachedFrom] === name && p.metadata.annotations?.[ANNOTATIONS.detachedTemplate] === primaryHash);
      if (primaryPods.length >= primarySpec && starting > 0 && returnable.length > 0) {
        const back = returnable.slice(0, starting);
        {
          for (const pod of back) await this.relabel(pod, primaryRs.spec.template.metadata.labels, { [ANNOTATIONS.detachedFrom]: null, [ANNOTATIONS.detachedTemplate]: null, [DELETION_COST]: null });
          await this.scaleDeployment(namespace, shadowName(name), Math.max(settings.shadows, shadowSpec - back.length), true, shadowSpec);
          this.record(primary, 'return', back.map((p) => p.metadata.name), { from: shadowName(name), to: name });
          report.moved.push(...back.map((p) => `${p.metadata.name} → ${name}`));
          return;
        }
      }

      // Scale-down into the pool.
      const hpa = await this.readHpa(namespace, settings.hpa);
      if (hpa) {
        const policy = hpa.spec?.behavior?.scaleDown?.selectPolicy;
        if (policy !== 'Disabled') {
          throw new Error(`HorizontalPodAutoscaler ${namespace}/${settings.hpa} scales ${name} down itself; set spec.behavior.scaleDown.selectPolicy: Disabled so that pods leaving ${name} can join the warm pool (annotation ${ANNOTATIONS.poolMax})`);
        }
        const target = this.stabilized(where, hpa, primarySpec);
        if (target !== undefined && target < primarySpec && primaryPods.length === primarySpec && starting === 0) {
          const leaving = primarySpec - target;
          const room = Math.max(0, settings.poolMax - shadowSpec);
          // The pods the ReplicaSet would pick last to keep are the ones to move: the newest ready ones.
          const moving = [...primaryPods].sort((a, b) => Date.parse(b.metadata.creationTimestamp ?? 0) - Date.parse(a.metadata.creationTimestamp ?? 0)).slice(0, Math.min(leaving, room));
          if (moving.length > 0) {
            await this.scaleDeployment(namespace, shadowName(name), shadowSpec + moving.length, true, shadowSpec);
            for (const pod of moving) {
              await this.relabel(pod, shadowRs.spec.template.metadata.labels, { [ANNOTATIONS.detachedFrom]: name, [ANNOTATIONS.detachedTemplate]: primaryHash ?? '', [DELETION_COST]: '-100' });
            }
            report.moved.push(...moving.map((p) => `${p.metadata.name} → ${shadowName(name)}`));
          }
          await this.scaleDeployment(namespace, name, target, false, primarySpec);
          this.record(primary, 'scale-down', moving.map((p) => p.metadata.name), { from: primarySpec, to: target, intoPool: moving.length, deleted: leaving - moving.length });
          this.recommendations.delete(where);
          return;
        }
      }

      // Idle de-provisioning.
      if (shadowSpec > settings.shadows) {
        const changed = Date.parse(shadow.metadata?.annotations?.[ANNOTATIONS.poolChangedAt] ?? '') || 0;
        const idleFor = (this.now() - changed) / 1000;
        if (idleFor >= settings.poolIdleSeconds) {
          const rise = await this.options.riseExpected?.(namespace, name, primarySpec).catch(() => undefined);
          if (rise === true) return;
          await this.scaleDeployment(namespace, shadowName(name), settings.shadows, false, shadowSpec);
          this.record(primary, 'idle-shrink', [], { from: shadowSpec, to: settings.shadows, idleSeconds: Math.round(idleFor), riseExpected: rise ?? 'unknown' });
        }
      }
    } catch (error) {
      if (error instanceof StaleObservation) {
        // Someone (the HPA, the receiver, a person) scaled a set since this pass read it: nothing is
        // overwritten; the next pass reads again and recomputes.
        report.aborted.push(`${where}: ${error.message}`);
        return;
      }
      const message = `${where}: warm pool: ${(error as Error).message}`;
      report.errors.push(message);
      this.audit?.record({ event: 'error', namespace, workload: name, error: message });
    }
  }

  /** The HPA's recommendation, stabilized like the HPA's scale-down: the highest over the window, once the window is covered. */
  private stabilized(where: string, hpa: any, current: number): number | undefined {
    const now = this.now();
    const windowMs = (hpa.spec?.behavior?.scaleDown?.stabilizationWindowSeconds ?? 300) * 1000;
    const replicas = hpaRecommendation(hpa, current);
    if (replicas === undefined) return undefined;
    const history = this.recommendations.get(where) ?? [];
    const first = history[0]?.first ?? now;
    history.push({ at: now, replicas, first });
    const kept = history.filter((r) => now - r.at <= windowMs);
    this.recommendations.set(where, kept);
    // Until this process has watched a whole window, it does not know the HPA's highest recommendation in it.
    if (now - first < windowMs) return undefined;
    return Math.max(...kept.map((r) => r.replicas));
  }

  private async readHpa(namespace: string, name: string): Promise<any | undefined> {
    try {
      return await this.apis.retry(`read HorizontalPodAutoscaler ${namespace}/${name}`, () => this.apis.autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace }, this.apis.options()));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The Deployment's ReplicaSet for its current template: owned by it, the highest revision. */
  private async currentReplicaSet(d: PrimaryDeployment): Promise<any | undefined> {
    const { namespace } = d.metadata;
    const list = await this.apis.retry(`list ReplicaSets in ${namespace}`, () =>
      this.apis.apps.listNamespacedReplicaSet({ namespace, labelSelector: selectorText(d.spec.selector.matchLabels ?? {}) }, this.apis.options()),
    );
    return list.items
      .filter((rs) => rs.metadata?.ownerReferences?.some((r) => r.uid === d.metadata.uid) && (rs.spec?.replicas ?? 0) > 0)
      .sort((a, b) => Number(b.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0) - Number(a.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0))[0];
  }

  /**
   * The running pods of a Deployment: owned by one of its ReplicaSets (by UID), not by labels alone
   * (labels anyone in the namespace can put on a pod; a selector without matchLabels would match all).
   */
  private async podsOf(d: PrimaryDeployment): Promise<any[]> {
    const { namespace } = d.metadata;
    const selector = d.spec.selector.matchLabels ?? {};
    const [sets, list] = await Promise.all([
      this.apis.retry(`list ReplicaSets in ${namespace}`, () => this.apis.apps.listNamespacedReplicaSet({ namespace, labelSelector: selectorText(selector) }, this.apis.options())),
      this.apis.retry(`list Pods in ${namespace}`, () => this.apis.core.listNamespacedPod({ namespace, labelSelector: selectorText(selector) }, this.apis.options())),
    ]);
    const owners = new Set(sets.items.filter((rs) => rs.metadata?.ownerReferences?.some((r) => r.uid === d.metadata.uid && r.controller)).map((rs) => rs.metadata?.uid));
    return list.items.filter((p) => !p.metadata?.deletionTimestamp && p.metadata?.ownerReferences?.some((r) => r.controller && owners.has(r.uid)));
  }

  /**
   * Moves a pod to the ReplicaSet whose template labels are `labels`: new labels, no owner. Without a
   * resourceVersion: the kubelet updates a running pod's status all the time, and a relabel is
   * harmless to repeat.
   */
  private async relabel(pod: any, labels: Record<string, string>, annotations: Record<string, string | null>): Promise<void> {
    const { namespace, name } = pod.metadata;
    this.options.fence?.(`relabelling Pod ${namespace}/${name}`);
    const next: Record<string, string | null> = {};
    for (const key of Object.keys(pod.metadata.labels ?? {})) if (!(key in labels)) next[key] = null;
    Object.assign(next, labels);
    if (!(ROLE_LABEL in labels)) next[ROLE_LABEL] = null;
    const body = { metadata: { labels: next, annotations, ownerReferences: null } };
    await this.apis.retry(`relabel Pod ${namespace}/${name}`, () => this.apis.core.patchNamespacedPod({ name, namespace, body }, this.apis.options(true)));
  }

  /** Scales a Deployment, only if it still has the `from` replicas this pass computed from (StaleObservation otherwise). */
  private async scaleDeployment(namespace: string, name: string, replicas: number, stamp: boolean, from: number): Promise<void> {
    const what = `Deployment ${namespace}/${name}`;
    await this.apis.retry(`scale ${what} to ${replicas}`, async () => {
      this.options.fence?.(`scaling ${what}`);
      const current = await this.apis.apps.readNamespacedDeployment({ name, namespace }, this.apis.options());
      if ((current.spec?.replicas ?? 1) !== from) throw new StaleObservation(`${what} has ${current.spec?.replicas} replicas, not the ${from} this pass read`);
      const body = {
        metadata: { resourceVersion: current.metadata?.resourceVersion, ...(stamp ? { annotations: { [ANNOTATIONS.poolChangedAt]: new Date(this.now()).toISOString() } } : {}) },
        spec: { replicas },
      };
      await this.apis.apps.patchNamespacedDeployment({ name, namespace, body }, this.apis.options(true));
    });
  }

  private record(primary: PrimaryDeployment, verb: string, pods: string[], details: Record<string, unknown>): void {
    this.audit?.record({ event: 'action', namespace: primary.metadata.namespace, workload: primary.metadata.name, step: { kind: 'pool', verb, pods, ...details }, result: 'success', fingerprints: [] });
  }
}

const ready = (pod: any) => pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ?? false;
const selectorText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
