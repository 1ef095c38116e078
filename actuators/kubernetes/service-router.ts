/**
 * The simplest router: one Service whose selector picks the serving set's pods by a label value.
 * It moves traffic but does not mirror; the mirror is whatever the mesh or gateway already does, so
 * it is reported as configured. The data plane has moved once the Service's EndpointSlices send only
 * to pods the new selector picks: kube-proxy and meshes program from those, seconds after the edit.
 */
import type { KubeApis } from '../../platform/kubernetes.ts';
import type { Router } from './router.ts';

export interface ServiceRouterSettings {
  name: string;
  selectorKey: string;
  /** Label value of each set's pods, by set name. */
  values: Record<string, string>;
  /** The configured standby and share, reported as the mirror. */
  mirrorPercent: number;
}

interface Endpoint {
  addresses?: string[];
  conditions?: { ready?: boolean | null };
  targetRef?: { kind?: string; name?: string };
}
interface Slice {
  metadata?: { name?: string };
  endpoints?: Endpoint[] | null;
}

/**
 * Do the Service's EndpointSlices send only to pods its selector picks now (`selected`), with at least
 * one ready? An endpoint receives traffic unless its `ready` condition is false (unset means ready).
 */
export function endpointsProgrammed(service: string, slices: Slice[], selected: ReadonlySet<string>): { programmed: boolean; programmedWhy?: string } {
  if (slices.length === 0) return { programmed: false, programmedWhy: `no EndpointSlice for Service ${service} yet` };
  let ready = 0;
  for (const slice of slices) {
    for (const e of slice.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      const pod = e.targetRef?.kind === 'Pod' ? e.targetRef.name : undefined;
      if (pod === undefined || !selected.has(pod)) {
        return { programmed: false, programmedWhy: `EndpointSlice ${slice.metadata?.name ?? '?'} still sends to ${pod ? `pod ${pod}` : (e.addresses?.[0] ?? 'an endpoint')}, which the selector no longer picks` };
      }
      ready++;
    }
  }
  if (ready === 0) return { programmed: false, programmedWhy: `Service ${service} has no ready endpoint yet` };
  return { programmed: true };
}

const selectorText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

export function serviceRouter(apis: KubeApis, namespace: string, s: ServiceRouterSettings): Router {
  const what = `Service ${namespace}/${s.name}`;
  const sets = Object.keys(s.values);
  return {
    async observe() {
      const o = await apis.retry(`read ${what}`, () => apis.core.readNamespacedService({ name: s.name, namespace }, apis.options()));
      const selector = o.spec?.selector ?? {};
      const value = selector[s.selectorKey];
      const active = sets.find((set) => s.values[set] === value) ?? value ?? '';
      const [slices, pods] = await Promise.all([
        apis.retry(`list EndpointSlices of ${what}`, () => apis.discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${s.name}` }, apis.options())),
        apis.retry(`list Pods selected by ${what}`, () => apis.core.listNamespacedPod({ namespace, labelSelector: selectorText(selector) }, apis.options())),
      ]);
      const selected = new Set(pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name ?? ''));
      return { active, mirror: sets.find((set) => set !== active), mirrorPercent: s.mirrorPercent, ...endpointsProgrammed(s.name, slices.items as Slice[], selected) };
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
