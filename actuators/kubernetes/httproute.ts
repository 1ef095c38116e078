/**
 * Gateway API HTTPRoute (gateway.networking.k8s.io/v1): one rule's backendRefs send all traffic to the
 * serving set's Service, and its `RequestMirror` filter copies `percent` % to the standby's Service
 * (Gateway API v1, standard channel). Spill-over splits that rule's traffic by backendRef weights
 * (serving 100 - p, standby p) and drops the mirror while it does. Other rules, filters and fields
 * are left as they are.
 */
import type { KubeApis } from '../../platform/kubernetes.ts';
import type { Router } from './router.ts';

const ref = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' };

interface BackendRef {
  name: string;
  port?: number;
  weight?: number;
  [k: string]: unknown;
}
interface Filter {
  type: string;
  requestMirror?: { backendRef: BackendRef; percent?: number; fraction?: { numerator: number; denominator?: number } };
  [k: string]: unknown;
}
interface Condition {
  type?: string;
  status?: string;
  observedGeneration?: number;
}
interface HTTPRoute {
  metadata?: { resourceVersion?: string; generation?: number };
  status?: { parents?: Array<{ parentRef?: { name?: string }; conditions?: Condition[] }> };
  spec?: { rules?: Array<{ backendRefs?: BackendRef[]; filters?: Filter[]; [k: string]: unknown }>; [k: string]: unknown };
}

export interface HttpRouteSettings {
  name: string;
  rule: number;
  port: number;
  /** Service of each set, by set name. */
  services: Record<string, string>;
}

/**
 * Has every gateway (parent) taken the route's current spec: Accepted and ResolvedRefs true at its
 * generation? Undefined when no gateway reports a status (nothing to wait for but the drain).
 */
export function programmed(o: HTTPRoute): { programmed?: boolean; programmedWhy?: string } {
  const parents = o.status?.parents ?? [];
  if (parents.length === 0) return {};
  const generation = o.metadata?.generation;
  for (const p of parents) {
    for (const type of ['Accepted', 'ResolvedRefs']) {
      const c = p.conditions?.find((x) => x.type === type);
      const current = generation === undefined || c?.observedGeneration === undefined || c.observedGeneration >= generation;
      if (c?.status !== 'True' || !current) {
        return { programmed: false, programmedWhy: `gateway ${p.parentRef?.name ?? '?'}: ${type} ${c ? `${c.status} at generation ${c.observedGeneration ?? '?'}` : 'not reported'}, route at generation ${generation ?? '?'}` };
      }
    }
  }
  return { programmed: true };
}

export function httpRoute(apis: KubeApis, namespace: string, s: HttpRouteSettings): Router {
  const what = `HTTPRoute ${namespace}/${s.name}`;
  const setOf = (service: string | undefined) => Object.entries(s.services).find(([, svc]) => svc === service)?.[0] ?? service ?? '';
  const read = () => apis.custom.getNamespacedCustomObject({ ...ref, namespace, name: s.name }, apis.options()) as Promise<HTTPRoute>;
  const ruleOf = (o: HTTPRoute) => {
    const rule = o.spec?.rules?.[s.rule];
    if (!rule) throw new Error(`${what} has no rule ${s.rule} (spec.rules has ${o.spec?.rules?.length ?? 0}); check router.rule`);
    return rule;
  };
  /**
   * Rewrites rule `s.rule` on the version read: its backendRefs (set, weight) and its RequestMirror
   * filter (none at 0 %); other filters, rules and fields kept. Conflicts are retried on a fresh read.
   */
  const writeRule = (verb: string, backends: Array<[set: string, weight: number]>, mirror: string, mirrorPercent: number) =>
    apis.retry(`${verb} ${what}`, async () => {
      const o = await read();
      const rules = structuredClone(o.spec?.rules ?? []);
      const rule = ruleOf({ spec: { rules } });
      const template = rule.backendRefs?.[0] ?? { name: '' };
      rule.backendRefs = backends.map(([set, weight]) => ({ ...template, name: s.services[set], port: s.port, weight }));
      const others = (rule.filters ?? []).filter((f) => f.type !== 'RequestMirror');
      rule.filters = mirrorPercent > 0 ? [...others, { type: 'RequestMirror', requestMirror: { backendRef: { name: s.services[mirror], port: s.port }, percent: mirrorPercent } }] : others;
      const body = { metadata: { resourceVersion: o.metadata?.resourceVersion }, spec: { rules } };
      await apis.custom.patchNamespacedCustomObject({ ...ref, namespace, name: s.name, body }, apis.options(true));
    });
  return {
    async observe() {
      const o = await apis.retry(`read ${what}`, read);
      const rule = ruleOf(o);
      const serving = (rule.backendRefs ?? []).filter((b) => (b.weight ?? 1) > 0);
      const mirror = (rule.filters ?? []).find((f) => f.type === 'RequestMirror')?.requestMirror;
      const percent = mirror ? (mirror.percent ?? (mirror.fraction ? (100 * mirror.fraction.numerator) / (mirror.fraction.denominator ?? 100) : 100)) : 0;
      // Several weighted backends: the heaviest serves. The share its standby's Service takes is a
      // spill-over; a share to another Service is a split someone else manages (a canary), not ours.
      const heaviest = [...serving].sort((a, b) => (b.weight ?? 1) - (a.weight ?? 1))[0];
      const active = setOf(heaviest?.name);
      const standbyService = Object.entries(s.services).find(([set]) => set !== active)?.[1];
      const total = serving.reduce((n, b) => n + (b.weight ?? 1), 0);
      const toStandby = serving.filter((b) => b.name === standbyService).reduce((n, b) => n + (b.weight ?? 1), 0);
      return { active, mirror: mirror ? setOf(mirror.backendRef.name) : undefined, mirrorPercent: percent, spill: total > 0 ? toStandby / total : 0, ...programmed(o) };
    },
    async set(active, mirror, mirrorPercent) {
      await writeRule('update', [[active, 1]], mirror, mirrorPercent);
    },
    async split(serving, standby, share, mirrorPercent) {
      const percent = Math.round(share * 100);
      if (!(percent >= 0 && percent < 100)) throw new RangeError(`${what}: a spill share must be in [0, 1), got ${share}`);
      // While a share spills, the standby's capacity serves live requests rather than copies.
      if (percent > 0) await writeRule('split', [[serving, 100 - percent], [standby, percent]], standby, 0);
      else await writeRule('split', [[serving, 1]], standby, mirrorPercent);
    },
  };
}
