/**
 * A KEDA ScaledObject (keda.sh/v1alpha1): floor = spec.minReplicaCount, ceiling = spec.maxReplicaCount;
 * a swap retargets spec.scaleTargetRef. KEDA re-creates the HPA it owns from the ScaledObject, so the triggers stay.
 */
import type { KubeApis } from '../../platform/kubernetes.ts';
import { scaledObjectBlocks, type Autoscaler } from './autoscaler.ts';

const ref = { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects' };

interface ScaledObject {
  metadata?: { resourceVersion?: string };
  spec?: { scaleTargetRef?: { name?: string; kind?: string }; minReplicaCount?: number; maxReplicaCount?: number; triggers?: Array<{ type?: string; metadata?: Record<string, string> }> };
}

export function scaledObject(apis: KubeApis, namespace: string, name: string, sets: readonly string[] = [], resourceFraction = 1): Autoscaler {
  const what = `ScaledObject ${namespace}/${name}`;
  const read = () => apis.custom.getNamespacedCustomObject({ ...ref, namespace, name }, apis.options()) as Promise<ScaledObject>;
  return {
    async observe() {
      const o = await apis.retry(`read ${what}`, read);
      // KEDA's defaults: minReplicaCount 0, maxReplicaCount 100.
      const blocks = scaledObjectBlocks(what, o, sets, resourceFraction);
      return { target: o.spec?.scaleTargetRef?.name ?? '', minReplicas: o.spec?.minReplicaCount ?? 0, maxReplicas: o.spec?.maxReplicaCount ?? 100, lowest: 0, ...(blocks ? { blocks } : {}) };
    },
    async set(target, minReplicas, maxReplicas) {
      await apis.retry(`update ${what}`, async () => {
        const o = await read();
        const floor = Math.max(0, Math.min(minReplicas, maxReplicas ?? o.spec?.maxReplicaCount ?? 100));
        const body = {
          metadata: { resourceVersion: o.metadata?.resourceVersion },
          spec: {
            minReplicaCount: floor,
            ...(maxReplicas !== undefined ? { maxReplicaCount: Math.max(floor, maxReplicas, 1) } : {}),
            scaleTargetRef: { apiVersion: 'apps/v1', kind: target.kind, name: target.name },
          },
        };
        await apis.custom.patchNamespacedCustomObject({ ...ref, namespace, name, body }, apis.options(true));
      });
    },
  };
}
