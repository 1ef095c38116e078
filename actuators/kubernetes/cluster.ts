/**
 * A workload on Kubernetes as the promotion code sees it: its two sets (scale targets), its autoscaler
 * and its router, composed from the configuration.
 */
import type { WorkloadConfig } from '../../core/config.ts';
import { restartStamp, type ObservedState } from '../../core/promotion/promotion.ts';
import type { ActionStep, WorkloadCluster } from '../target.ts';
import type { KubeApis } from '../../platform/kubernetes.ts';
import type { Autoscaler, ObservedVersion } from './autoscaler.ts';
import { eventRecorder } from './events.ts';
import { horizontalPodAutoscaler } from './hpa.ts';
import { httpRoute } from './httproute.ts';
import type { Router } from './router.ts';
import { scaleTarget, type ScaleTarget } from './scale.ts';
import { scaledObject } from './scaledobject.ts';
import { ANNOTATIONS } from '../../core/labels.ts';
import { serviceRouter } from './service-router.ts';
import { virtualService } from './virtualservice.ts';
import type { WatchCache } from './watch-cache.ts';

/** With `cache`, the sets and the HPA are observed from informers when they can answer (watch-cache.ts). */
export function kubernetesCluster(apis: KubeApis, w: WorkloadConfig, cache?: WatchCache): WorkloadCluster {
  const shadow = w.shadow;
  if (!shadow) throw new Error(`workload ${w.namespace}/${w.name}: no shadow configured`);
  const kinds: Record<string, 'Deployment' | 'StatefulSet'> = { [w.primary.name]: w.primary.kind, [shadow.name]: shadow.kind };
  const sets = new Map<string, ScaleTarget>([
    [w.primary.name, scaleTarget(apis, w.namespace, w.primary.kind, w.primary.name, cache)],
    [shadow.name, scaleTarget(apis, w.namespace, shadow.kind, shadow.name, cache)],
  ]);
  const autoscalerName = w.autoscaler.name ?? w.primary.name;
  const autoscaler: Autoscaler | undefined =
    w.autoscaler.kind === 'HorizontalPodAutoscaler'
      ? horizontalPodAutoscaler(apis, w.namespace, autoscalerName, [w.primary.name, shadow.name], shadow.resourceFraction, cache)
      : w.autoscaler.kind === 'ScaledObject'
        ? scaledObject(apis, w.namespace, autoscalerName, [w.primary.name, shadow.name], shadow.resourceFraction)
        : undefined;
  const r = w.router;
  const router: Router | undefined =
    r.kind === 'HTTPRoute'
      ? httpRoute(apis, w.namespace, { name: r.name, rule: r.rule, port: r.port, services: { [w.primary.name]: r.primaryService ?? w.primary.name, [shadow.name]: r.shadowService ?? shadow.name } })
      : r.kind === 'VirtualService'
        ? virtualService(apis, w.namespace, { name: r.name, route: r.route, port: r.port, hosts: { [w.primary.name]: r.primaryHost ?? w.primary.name, [shadow.name]: r.shadowHost ?? shadow.name } })
      : r.kind === 'Service'
        ? serviceRouter(apis, w.namespace, { name: r.name, selectorKey: r.selectorKey, values: { [w.primary.name]: r.primaryValue, [shadow.name]: r.shadowValue }, mirrorPercent: shadow.mirrorPercent })
        : undefined;
  const event = eventRecorder(apis, w.namespace, { kind: w.primary.kind, name: w.primary.name });

  const set = (name: string) => {
    const s = sets.get(name);
    if (!s) throw new Error(`workload ${w.namespace}/${w.name} has no set ${name}`);
    return s;
  };

  // The versions of the objects as last observed: a step computed from that observation is written
  // on them in one request, each version used once. A step applied without an observation before it,
  // or on an object that changed since (409), reads the object first.
  const seen = new Map<string, string>();
  let seenAutoscaler: ObservedVersion | undefined;

  return {
    canRoute: router !== undefined,
    async observe(): Promise<ObservedState> {
      const [primary, standby, a, route] = await Promise.all([
        set(w.primary.name).observe(),
        set(shadow.name).observe(),
        autoscaler?.observe(),
        router?.observe(),
      ]);
      seen.clear();
      if (primary.resourceVersion) seen.set(w.primary.name, primary.resourceVersion);
      if (standby.resourceVersion) seen.set(shadow.name, standby.resourceVersion);
      seenAutoscaler = a?.observed;
      const annotated = Number(primary.annotations[ANNOTATIONS.poolMax]);
      const poolMax = primary.annotations[ANNOTATIONS.poolMax] !== undefined && Number.isInteger(annotated) && annotated >= 0 ? Math.min(annotated, shadow.maxReplicas) : undefined;
      return {
        replicas: { [w.primary.name]: { spec: primary.spec, ready: primary.ready }, [shadow.name]: { spec: standby.spec, ready: standby.ready } },
        restartedAt: { [w.primary.name]: primary.restartedAt, [shadow.name]: standby.restartedAt },
        ...(a ? { autoscaler: { target: a.target, minReplicas: a.minReplicas, ...(a.maxReplicas !== undefined ? { maxReplicas: a.maxReplicas } : {}), lowest: a.lowest, ...(a.blocks ? { blocks: a.blocks } : {}) } } : {}),
        ...(route ? { route } : {}),
        // The warm pool's maximum, from the same annotation the pool reads (invalid values are the provisioner's to report).
        ...(poolMax !== undefined ? { poolMax } : {}),
      };
    },
    async apply(step: ActionStep): Promise<void> {
      switch (step.kind) {
        case 'scale': {
          const version = seen.get(step.set);
          seen.delete(step.set);
          return set(step.set).scale(step.replicas, step.from, version);
        }
        case 'route':
          if (!router) throw new Error(`workload ${w.namespace}/${w.name}: no router configured`);
          if (step.spill > 0) {
            if (!router.split) throw new Error(`workload ${w.namespace}/${w.name}: its ${r.kind} router sends all traffic to one set and cannot split it (spill-over needs an HTTPRoute or a VirtualService)`);
            return router.split(step.active, step.mirror, step.spill, step.mirrorPercent);
          }
          return router.set(step.active, step.mirror, step.mirrorPercent);
        case 'autoscaler': {
          if (!autoscaler) throw new Error(`workload ${w.namespace}/${w.name}: no autoscaler configured`);
          const observed = seenAutoscaler;
          seenAutoscaler = undefined;
          return autoscaler.set({ kind: kinds[step.target] ?? 'Deployment', name: step.target }, step.minReplicas, step.maxReplicas, observed);
        }
        case 'restart':
          return set(step.set).restart(restartStamp(step.at));
      }
    },
    event,
  };
}
