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
      const version = o.metadata?.resourceVersion;
      const maxReplicas = o.spec?.maxReplicaCount ?? 100;
      return { target: o.spec?.scaleTargetRef?.name ?? '', minReplicas: o.spec?.minReplicaCount ?? 0, maxReplicas, lowest: 0, ...(blocks ? { blocks } : {}), ...(version ? { observed: { resourceVersion: version, maxReplicas } } : {}) };
    },
    async set(target, minReplicas, maxReplicas, observed) {
      const body = (resourceVersion: string | undefined, currentMax: number | undefined) => {
        const floor = Math.max(0, Math.min(minReplicas, maxReplicas ?? currentMax ?? 100));
        return {
          metadata: { resourceVersion },
          spec: {
            minReplicaCount: floor,
            ...(maxReplicas !== undefined ? { maxReplicaCount: Math.max(floor, maxReplicas, 1) } : {}),
            scaleTargetRef: { apiVersion: 'apps/v1', kind: target.kind, name: target.name },
          },
        };
      };
      if (observed) {
        try {
          await apis.retry(`update ${what}`, () => apis.custom.patchNamespacedCustomObject({ ...ref, namespace, name, body: body(observed.resourceVersion, observed.maxReplicas) }, apis.options(true)), { conflicts: false });
          return;
        } catch (error) {
          // Changed since (KEDA writes its status): read it and write on what was read.
          if ((error as { code?: number }).code !== 409) throw error;
        }
      }
      await apis.retry(`update ${what}`, async () => {
        const o = await read();
        await apis.custom.patchNamespacedCustomObject({ ...ref, namespace, name, body: body(o.metadata?.resourceVersion, o.spec?.maxReplicaCount) }, apis.options(true));
      });
    },
  };
}
