/**
 * The simplest router: one Service whose selector picks the serving set's pods by a label value.
 * It moves traffic but does not mirror; the mirror is whatever the mesh or gateway already does, so
 * it is reported as configured.
 */
import type { KubeApis } from './api.ts';
import type { Router } from './router.ts';

export interface ServiceRouterSettings {
  name: string;
  selectorKey: string;
  /** Label value of each set's pods, by set name. */
  values: Record<string, string>;
  /** The configured standby and share, reported as the mirror. */
  mirrorPercent: number;
}

export function serviceRouter(apis: KubeApis, namespace: string, s: ServiceRouterSettings): Router {
  const what = `Service ${namespace}/${s.name}`;
  const sets = Object.keys(s.values);
  return {
    async observe() {
      const o = await apis.retry(`read ${what}`, () => apis.core.readNamespacedService({ name: s.name, namespace }, apis.options()));
      const value = o.spec?.selector?.[s.selectorKey];
      const active = sets.find((set) => s.values[set] === value) ?? value ?? '';
      return { active, mirror: sets.find((set) => set !== active), mirrorPercent: s.mirrorPercent };
    },
    async set(active) {
      await apis.retry(`update ${what}`, async () => {
        const o = await apis.core.readNamespacedService({ name: s.name, namespace }, apis.options());
        const body = { metadata: { resourceVersion: o.metadata?.resourceVersion }, spec: { selector: { [s.selectorKey]: s.values[active] } } };
        await apis.core.patchNamespacedService({ name: s.name, namespace, body }, apis.options(true));
      });
    },
  };
}
