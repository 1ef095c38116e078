/**
 * Deployment / StatefulSet replicas through the `scale` subresource, readiness from the object's
 * status; a rollout restart the way `kubectl rollout restart` does it (the pod template annotation
 * `kubectl.kubernetes.io/restartedAt`).
 */
import { StaleObservation } from '../target.ts';
import type { KubeApis } from '../../platform/kubernetes.ts';
import type { WatchCache } from './watch-cache.ts';

export interface ScaleTarget {
  readonly name: string;
  /** `resourceVersion`: the object's as read (its Scale has the same). */
  observe(): Promise<{ spec: number; ready: number; restartedAt?: string; annotations: Record<string, string>; resourceVersion?: string }>;
  /**
   * Sets the replicas, only if they are still `from` (when given): StaleObservation otherwise. With
   * `resourceVersion` (what `observe` returned), written on that version in one request; without, or
   * when the object changed since (409), the Scale is read first.
   */
  scale(replicas: number, from?: number, resourceVersion?: string): Promise<void>;
  /** Rollout restart, stamped `at` (RFC 3339). */
  restart(at: string): Promise<void>;
}

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

/** With `cache`, observed from its informer when it can answer (watch-cache.ts), read from the API otherwise. */
export function scaleTarget(apis: KubeApis, namespace: string, kind: 'Deployment' | 'StatefulSet', name: string, cache?: WatchCache): ScaleTarget {
  const what = `${kind} ${namespace}/${name}`;
  const deployment = kind === 'Deployment';
  type Workload = { metadata?: { resourceVersion?: string; annotations?: Record<string, string> }; spec?: { replicas?: number; template?: { metadata?: { annotations?: Record<string, string> } } }; status?: { readyReplicas?: number } };
  const seen = (o: { metadata?: { resourceVersion?: string } }, object?: Workload) => cache?.seen(kind, namespace, name, o.metadata?.resourceVersion, object);
  /** The object as last observed: a scale written on its version makes it this object with the new replicas. */
  let observed: Workload | undefined;
  return {
    name,
    async observe() {
      let o: Workload | undefined = cache?.get<Workload>(kind, namespace, name);
      if (!o) {
        o = await apis.retry(`read ${what}`, () =>
          deployment
            ? apis.apps.readNamespacedDeployment({ name, namespace }, apis.options())
            : apis.apps.readNamespacedStatefulSet({ name, namespace }, apis.options()),
        );
        seen(o, o);
      }
      observed = o;
      const restartedAt = o.spec?.template?.metadata?.annotations?.[RESTARTED_AT];
      const version = o.metadata?.resourceVersion;
      return { spec: o.spec?.replicas ?? 1, ready: o.status?.readyReplicas ?? 0, ...(restartedAt ? { restartedAt } : {}), annotations: o.metadata?.annotations ?? {}, ...(version ? { resourceVersion: version } : {}) };
    },
    async restart(at) {
      const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: at } } } } };
      const o: Workload = await apis.retry(`restart ${what}`, () =>
        deployment
          ? apis.apps.patchNamespacedDeployment({ name, namespace, body }, apis.options(true))
          : apis.apps.patchNamespacedStatefulSet({ name, namespace, body }, apis.options(true)),
      );
      seen(o, o);
    },
    async scale(replicas, from, resourceVersion) {
      // A Scale carries its object's resourceVersion. Written on the version observed, the object is now
      // the one observed with these replicas; otherwise only its version is known.
      const patch = async (body: { metadata: { resourceVersion?: string }; spec: { replicas: number } }) => {
        const written = deployment
          ? await apis.apps.patchNamespacedDeploymentScale({ name, namespace, body }, apis.options(true))
          : await apis.apps.patchNamespacedStatefulSetScale({ name, namespace, body }, apis.options(true));
        const base = observed?.metadata?.resourceVersion !== undefined && observed.metadata.resourceVersion === body.metadata.resourceVersion ? observed : undefined;
        seen(written, base && { ...base, metadata: { ...base.metadata, resourceVersion: written.metadata?.resourceVersion }, spec: { ...base.spec, replicas } });
      };
      if (resourceVersion) {
        // The object's version as observed (the step was computed from it): one write, refused by the
        // API server (409) if anyone changed the object since, its status included; then as below.
        try {
          await apis.retry(`scale ${what} to ${replicas}`, () => patch({ metadata: { resourceVersion }, spec: { replicas } }), { conflicts: false });
          return;
        } catch (error) {
          if ((error as { code?: number }).code !== 409) throw error;
        }
      }
      // Read the Scale for its resourceVersion and patch with it: a concurrent writer (the HPA) makes
      // this a 409, and the retry reads again; if the value it reads is no longer the one the step was
      // computed from, the step is not taken (the caller observes again and decides anew).
      await apis.retry(`scale ${what} to ${replicas}`, async () => {
        const current = deployment
          ? await apis.apps.readNamespacedDeploymentScale({ name, namespace }, apis.options())
          : await apis.apps.readNamespacedStatefulSetScale({ name, namespace }, apis.options());
        seen(current);
        if (current.spec?.replicas === replicas) return;
        if (from !== undefined && current.spec?.replicas !== from) throw new StaleObservation(`${what} has ${current.spec?.replicas} replicas, not the ${from} the step was computed from`);
        await patch({ metadata: { resourceVersion: current.metadata?.resourceVersion }, spec: { replicas } });
      });
    },
  };
}
