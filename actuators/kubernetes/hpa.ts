/** The HPA (autoscaling/v2): floor = spec.minReplicas; a swap retargets spec.scaleTargetRef, keeping the object, its behavior and history. */
import type { KubeApis } from '../../platform/kubernetes.ts';
import { hpaBlocks, type Autoscaler } from './autoscaler.ts';
import type { WatchCache } from './watch-cache.ts';
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';

/** With `cache`, observed from its informer when it can answer (watch-cache.ts), read from the API otherwise. */
export function horizontalPodAutoscaler(apis: KubeApis, namespace: string, name: string, sets: readonly string[] = [], resourceFraction = 1, cache?: WatchCache): Autoscaler {
  const what = `HorizontalPodAutoscaler ${namespace}/${name}`;
  const seen = (o: V2HorizontalPodAutoscaler) => cache?.seen('HorizontalPodAutoscaler', namespace, name, o.metadata?.resourceVersion, o);
  const patch = async (body: object) => seen(await apis.autoscaling.patchNamespacedHorizontalPodAutoscaler({ name, namespace, body }, apis.options(true)));
  return {
    async observe() {
      let o = cache?.get<V2HorizontalPodAutoscaler>('HorizontalPodAutoscaler', namespace, name);
      if (!o) {
        o = await apis.retry(`read ${what}`, () => apis.autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace }, apis.options()));
        seen(o);
      }
      const blocks = hpaBlocks(what, o as Parameters<typeof hpaBlocks>[1], sets, resourceFraction);
      const version = o.metadata?.resourceVersion;
      return { target: o.spec?.scaleTargetRef?.name ?? '', minReplicas: o.spec?.minReplicas ?? 1, maxReplicas: o.spec?.maxReplicas, lowest: 1, ...(blocks ? { blocks } : {}), ...(version ? { observed: { resourceVersion: version, maxReplicas: o.spec?.maxReplicas } } : {}) };
    },
    async set(target, minReplicas, maxReplicas, observed) {
      const body = (resourceVersion: string | undefined, currentMax: number | undefined) => {
        const ceiling = maxReplicas ?? currentMax ?? minReplicas;
        const floor = Math.max(1, Math.min(minReplicas, ceiling));
        return {
          metadata: { resourceVersion },
          spec: { minReplicas: floor, ...(maxReplicas !== undefined ? { maxReplicas: Math.max(floor, maxReplicas) } : {}), scaleTargetRef: { apiVersion: 'apps/v1', kind: target.kind, name: target.name } },
        };
      };
      if (observed) {
        try {
          await apis.retry(`update ${what}`, () => patch(body(observed.resourceVersion, observed.maxReplicas)), { conflicts: false });
          return;
        } catch (error) {
          // Changed since (its status is written every sync): read it and write on what was read.
          if ((error as { code?: number }).code !== 409) throw error;
        }
      }
      await apis.retry(`update ${what}`, async () => {
        const o = await apis.autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace }, apis.options());
        seen(o);
        await patch(body(o.metadata?.resourceVersion, o.spec?.maxReplicas));
      });
    },
  };
}
