/** The HPA (autoscaling/v2): floor = spec.minReplicas; a swap retargets spec.scaleTargetRef, keeping the object, its behavior and history. */
import type { KubeApis } from '../../platform/kubernetes.ts';
import { hpaBlocks, type Autoscaler } from './autoscaler.ts';

export function horizontalPodAutoscaler(apis: KubeApis, namespace: string, name: string, sets: readonly string[] = [], resourceFraction = 1): Autoscaler {
  const what = `HorizontalPodAutoscaler ${namespace}/${name}`;
  return {
    async observe() {
      const o = await apis.retry(`read ${what}`, () => apis.autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace }, apis.options()));
      const blocks = hpaBlocks(what, o as Parameters<typeof hpaBlocks>[1], sets, resourceFraction);
      return { target: o.spec?.scaleTargetRef?.name ?? '', minReplicas: o.spec?.minReplicas ?? 1, maxReplicas: o.spec?.maxReplicas, lowest: 1, ...(blocks ? { blocks } : {}) };
    },
    async set(target, minReplicas, maxReplicas) {
      await apis.retry(`update ${what}`, async () => {
        const o = await apis.autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace }, apis.options());
        const ceiling = maxReplicas ?? o.spec?.maxReplicas ?? minReplicas;
        const floor = Math.max(1, Math.min(minReplicas, ceiling));
        const body = {
          metadata: { resourceVersion: o.metadata?.resourceVersion },
          spec: { minReplicas: floor, ...(maxReplicas !== undefined ? { maxReplicas: Math.max(floor, maxReplicas) } : {}), scaleTargetRef: { apiVersion: 'apps/v1', kind: target.kind, name: target.name } },
        };
        await apis.autoscaling.patchNamespacedHorizontalPodAutoscaler({ name, namespace, body }, apis.options(true));
      });
    },
  };
}
