/**
 * Istio VirtualService (networking.istio.io/v1): one HTTP route's destinations send all traffic to the
 * serving set's Service, and its `mirror` with `mirrorPercentage` copies that share to the standby's
 * Service. Spill-over splits that route's traffic by destination weights (serving 100 - p, standby p)
 * and drops the mirror while it does. Other routes, their matches, retries, timeouts, headers and every
 * other field are left as they are. Istio reports no status a route can be waited on: the receiver
 * waits for its drain only.
 */
import type { KubeApis } from '../../platform/kubernetes.ts';
import type { Router } from './router.ts';

const ref = { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' };

interface Destination {
  host: string;
  port?: { number?: number };
  [k: string]: unknown;
}
interface RouteDestination {
  destination: Destination;
  weight?: number;
  [k: string]: unknown;
}
interface HttpRoute {
  route?: RouteDestination[];
  mirror?: Destination;
  mirrorPercentage?: { value?: number };
  [k: string]: unknown;
}
interface VirtualService {
  metadata?: { resourceVersion?: string };
  spec?: { http?: HttpRoute[]; [k: string]: unknown };
}

export interface VirtualServiceSettings {
  name: string;
  /** Index of the HTTP route in spec.http whose destinations and mirror are managed. */
  route: number;
  /** Destination port; absent: whatever the route's destinations say. */
  port?: number;
  /** Destination host (Service) of each set, by set name. */
  hosts: Record<string, string>;
}

export function virtualService(apis: KubeApis, namespace: string, s: VirtualServiceSettings): Router {
  const what = `VirtualService ${namespace}/${s.name}`;
  const setOf = (host: string | undefined) => Object.entries(s.hosts).find(([, h]) => h === host)?.[0] ?? host ?? '';
  const read = () => apis.custom.getNamespacedCustomObject({ ...ref, namespace, name: s.name }, apis.options()) as Promise<VirtualService>;
  const routeOf = (http: HttpRoute[] | undefined) => {
    const route = http?.[s.route];
    if (!route) throw new Error(`${what} has no HTTP route ${s.route} (spec.http has ${http?.length ?? 0}); check router.route`);
    return route;
  };
  /** Writes route `s.route` as `change` leaves it, on the version read, the other routes as they are. */
  const write = (verb: string, change: (route: HttpRoute) => void) =>
    apis.retry(`${verb} ${what}`, async () => {
      const o = await read();
      const http = structuredClone(o.spec?.http ?? []);
      change(routeOf(http));
      const body = { metadata: { resourceVersion: o.metadata?.resourceVersion }, spec: { http } };
      await apis.custom.patchNamespacedCustomObject({ ...ref, namespace, name: s.name, body }, apis.options(true));
    });
  const destination = (route: HttpRoute, set: string): Destination => {
    const template = route.route?.[0]?.destination ?? { host: '' };
    return { ...template, host: s.hosts[set], ...(s.port !== undefined ? { port: { number: s.port } } : {}) };
  };
  const mirrorTo = (route: HttpRoute, set: string, percent: number) => {
    if (percent > 0) {
      route.mirror = destination(route, set);
      route.mirrorPercentage = { value: percent };
    } else {
      delete route.mirror;
      delete route.mirrorPercentage;
    }
  };
  return {
    async observe() {
      const o = await apis.retry(`read ${what}`, read);
      const route = routeOf(o.spec?.http);
      // A lone destination takes everything whatever its weight; several split by weight.
      const routes = (route.route ?? []).filter((d) => (route.route!.length === 1 ? true : (d.weight ?? 0) > 0));
      const weight = (d: RouteDestination) => (routes.length === 1 ? 100 : (d.weight ?? 0));
      const heaviest = [...routes].sort((a, b) => weight(b) - weight(a))[0];
      const active = setOf(heaviest?.destination.host);
      // The share the standby's host takes is a spill-over; a share to another host is someone else's split.
      const standbyHost = Object.entries(s.hosts).find(([set]) => set !== active)?.[1];
      const total = routes.reduce((n, d) => n + weight(d), 0);
      const toStandby = routes.filter((d) => d.destination.host === standbyHost).reduce((n, d) => n + weight(d), 0);
      // No mirrorPercentage: Istio mirrors everything.
      const mirrorPercent = route.mirror ? (route.mirrorPercentage?.value ?? 100) : 0;
      return { active, mirror: route.mirror ? setOf(route.mirror.host) : undefined, mirrorPercent, spill: total > 0 ? toStandby / total : 0 };
    },
    async set(active, mirror, mirrorPercent) {
      await write('update', (route) => {
        route.route = [{ ...(route.route?.[0] ?? {}), destination: destination(route, active), weight: 100 }];
        mirrorTo(route, mirror, mirrorPercent);
      });
    },
    async split(serving, standby, share, mirrorPercent) {
      const percent = Math.round(share * 100);
      if (!(percent >= 0 && percent < 100)) throw new RangeError(`${what}: a spill share must be in [0, 1), got ${share}`);
      await write('split', (route) => {
        const template = route.route?.[0] ?? {};
        route.route =
          percent > 0
            ? [
                { ...template, destination: destination(route, serving), weight: 100 - percent },
                { ...template, destination: destination(route, standby), weight: percent },
              ]
            : [{ ...template, destination: destination(route, serving), weight: 100 }];
        // While a share spills, the standby's capacity serves live requests rather than copies.
        mirrorTo(route, standby, percent > 0 ? 0 : mirrorPercent);
      });
    },
  };
}
