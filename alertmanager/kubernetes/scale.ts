/** Deployment / StatefulSet replicas through the `scale` subresource, readiness from the object's status. */
import type { KubeApis } from './api.ts';

export interface ScaleTarget {
  readonly name: string;
  observe(): Promise<{ spec: number; ready: number }>;
  scale(replicas: number): Promise<void>;
}

export function scaleTarget(apis: KubeApis, namespace: string, kind: 'Deployment' | 'StatefulSet', name: string): ScaleTarget {
  const what = `${kind} ${namespace}/${name}`;
  const deployment = kind === 'Deployment';
  return {
    name,
    async observe() {
      const o = await apis.retry(`read ${what}`, () =>
        deployment
          ? apis.apps.readNamespacedDeployment({ name, namespace }, apis.options())
          : apis.apps.readNamespacedStatefulSet({ name, namespace }, apis.options()),
      );
      return { spec: o.spec?.replicas ?? 1, ready: o.status?.readyReplicas ?? 0 };
    },
    async scale(replicas) {
      // Read the Scale for its resourceVersion and patch with it: a concurrent writer (the HPA) makes
      // this a 409, and the retry reads again rather than overwriting blindly.
      await apis.retry(`scale ${what} to ${replicas}`, async () => {
        const current = deployment
          ? await apis.apps.readNamespacedDeploymentScale({ name, namespace }, apis.options())
          : await apis.apps.readNamespacedStatefulSetScale({ name, namespace }, apis.options());
        if (current.spec?.replicas === replicas) return;
        const body = { metadata: { resourceVersion: current.metadata?.resourceVersion }, spec: { replicas } };
        if (deployment) await apis.apps.patchNamespacedDeploymentScale({ name, namespace, body }, apis.options(true));
        else await apis.apps.patchNamespacedStatefulSetScale({ name, namespace, body }, apis.options(true));
      });
    },
  };
}
