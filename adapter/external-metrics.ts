/**
 * `external.metrics.k8s.io/v1beta1` for the HPA: discovery documents and
 * `GET /apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}?labelSelector=...`, answered from
 * the forecast cache (never a Prometheus call on the request path). Errors are Kubernetes `Status`
 * objects, because that is what kubectl and the HPA controller print.
 *
 * The values are the request every HPA makes every sync period, for every workload: they are answered
 * on the servers' request event itself (`externalMetricValues`), before Express, with the same
 * front-proxy check (adapter/authn.ts). Express's routing and response helpers cost more than the
 * answer: with 1,000 workloads at 1,000 req/s, answering here took the serving thread from 5.0-5.3 s
 * of CPU per 10 s to 3.0-3.3 s, and a heap profile had shown Express's per-request objects as most of
 * what its young generation promoted. Discovery and everything else stay on Express.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { Router } from 'express';
import { checkFrontProxy, type Denial, type FrontProxyTrust } from './authn.ts';
import type { ForecastLoop } from './forecast-loop.ts';
import type { AdapterMetrics } from './metrics.ts';
import type { Authorizer } from '../platform/kube-auth.ts';
import { toQuantity } from '../platform/quantity.ts';
import { matches, parseSelector, SelectorError } from './selector.ts';
import type { ServedView } from './serving.ts';
import { statusBody } from './status.ts';

export const GROUP = 'external.metrics.k8s.io';
export const VERSION = 'v1beta1';
const GROUP_VERSION = `${GROUP}/${VERSION}`;

/** A served metric: how it is read off a workload's view, and whether it is a rate over a window. */
export interface ExternalMetric {
  pick: (v: ServedView) => number;
  windowed: boolean;
}

/** The metrics served, by name. */
export const EXTERNAL_METRICS: Record<string, ExternalMetric> = {
  shadowscale_predicted_load: { pick: (v) => v.served.predictedLoad, windowed: true },
  shadowscale_desired_replicas: { pick: (v) => v.served.desiredReplicas, windowed: false },
  shadowscale_shadow_pool_size: { pick: (v) => v.served.shadowPoolSize, windowed: false },
};

/** A served metric by name; undefined for any other name (`constructor` and `__proto__` included). */
export function externalMetric(name: string): ExternalMetric | undefined {
  return Object.hasOwn(EXTERNAL_METRICS, name) ? EXTERNAL_METRICS[name] : undefined;
}

function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The values' route, as the README's table of endpoints writes it. */
export const VALUES_ROUTE = `/apis/${GROUP_VERSION}/namespaces/:namespace/:metric`;
/** The values' path, exactly as the API server routes it: /APIS/... is not /apis/... (Express answers it: 404). */
const VALUES_PATH = new RegExp(`^${VALUES_ROUTE.replace(/\./g, '\\.').replace(/:namespace|:metric/g, '([^/]+)')}$`);

export interface ExternalMetricValuesOptions {
  loop: ForecastLoop;
  metrics: AdapterMetrics;
  /** The window of the windowed metrics (adapter.step, seconds). */
  stepSeconds: () => number;
  now?: () => number;
  /** The front proxy the requests must come through (adapter.authentication.requestHeader), if any. */
  trust?: FrontProxyTrust;
  authorizer?: Authorizer;
  /** Told of an answer that failed (answered 500). */
  onError?: (error: Error) => void;
}

/**
 * The answer to `GET .../namespaces/{namespace}/{metric}?{query}`: its status code and JSON body.
 */
export function externalMetricValuesAnswer(o: ExternalMetricValuesOptions, namespace: string, metric: string, query: string): { code: number; body: string } {
  const { loop } = o;
  const definition = externalMetric(metric);
  if (!definition) return { code: 404, body: statusBody(404, 'NotFound', `external metric "${metric}" is not served by shadowscale; served metrics: ${Object.keys(EXTERNAL_METRICS).join(', ')}`) };
  // As Express's "simple" query parser read it: a repeated labelSelector is no selector.
  const selector = query === '' ? undefined : parseQuery(query).labelSelector;
  const rawSelector = typeof selector === 'string' ? selector : '';
  let requirements;
  try {
    requirements = parseSelector(rawSelector);
  } catch (error) {
    if (!(error instanceof SelectorError)) throw error;
    return { code: 400, body: statusBody(400, 'BadRequest', `invalid labelSelector for ${metric}: ${error.message}`) };
  }
  const at = (o.now ?? Date.now)();
  const items = [];
  // The HPA asks for one workload (workload=NAME): it is looked up, not matched against every
  // workload of the namespace (a thousand selector matches a request, at a thousand requests a second).
  const named = requirements.find((r) => r.key === 'workload' && r.op === 'in');
  const one = named && 'values' in named && named.values.length === 1 ? named.values[0] : undefined;
  const candidates = one !== undefined ? [loop.workload(namespace, one)].filter((w) => w !== undefined) : loop.workloadsIn(namespace);
  for (const w of candidates) {
    const labels = { workload: w.name, namespace: w.namespace };
    if (!matches(requirements, labels)) continue;
    if (!loop.computed(w.namespace, w.name)) {
      // Not computed yet (adapter starting): a 503 makes the HPA keep its replicas, where the
      // minimum rung would scale it down.
      return { code: 503, body: statusBody(503, 'ServiceUnavailable', `shadowscale is computing the first forecast of ${w.namespace}/${w.name}; retry shortly`) };
    }
    const v = loop.served(w.namespace, w.name)!;
    items.push({
      metricName: metric,
      metricLabels: labels,
      timestamp: rfc3339(at),
      ...(definition.windowed ? { window: o.stepSeconds() } : {}),
      value: toQuantity(definition.pick(v)),
    });
  }
  // An empty list is an error to the HPA ("no metrics returned"); say why instead.
  if (items.length === 0) {
    return { code: 404, body: statusBody(404, 'NotFound', `no shadowscale workload in namespace "${namespace}" matches labelSelector "${rawSelector}" (labels are workload and namespace)`) };
  }
  return { code: 200, body: JSON.stringify({ kind: 'ExternalMetricValueList', apiVersion: GROUP_VERSION, metadata: {}, items }) };
}

function send(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The request listener's first look: answers a GET (or HEAD) of an external metric's values and
 * returns true, or returns false for any other request (Express answers it). With a front proxy
 * configured, the request is checked as the Express middleware checks the rest of /apis.
 */
export function externalMetricValues(o: ExternalMetricValuesOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const m = VALUES_PATH.exec(path);
    if (!m) return false;
    let namespace: string;
    let metric: string;
    try {
      namespace = decodeURIComponent(m[1]);
      metric = decodeURIComponent(m[2]);
    } catch {
      // Not a valid encoding: Express says so.
      return false;
    }
    const answer = () => {
      const started = performance.now();
      let code: number;
      let body: string;
      try {
        ({ code, body } = externalMetricValuesAnswer(o, namespace, metric, q < 0 ? '' : url.slice(q + 1)));
      } catch (error) {
        o.onError?.(error as Error);
        code = 500;
        body = statusBody(500, 'InternalError', (error as Error).message);
      }
      send(res, code, body);
      o.metrics.requestObserved('external_metrics', externalMetric(metric) ? metric : 'unknown', String(code), (performance.now() - started) / 1000);
    };
    const refuse = (d: Denial) => send(res, d.code, statusBody(d.code, d.reason, d.message));
    if (!o.trust) {
      answer();
      return true;
    }
    const checked = checkFrontProxy(o.trust, o.authorizer, req, path);
    if (checked instanceof Promise) void checked.then((d) => (d ? refuse(d) : answer()));
    else if (checked) refuse(checked);
    else answer();
    return true;
  };
}

/** The discovery documents (the values are answered by `externalMetricValues`, before Express). */
export function externalMetricsRouter(): Router {
  // Exact paths, as the API server routes them: /APIS/... is not /apis/... (and must not slip past the
  // front-proxy guard by being answered anyway).
  const router = Router({ caseSensitive: true, strict: true });

  router.get('/apis', (_req, res) => {
    res.json({
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [{ name: GROUP, versions: [{ groupVersion: GROUP_VERSION, version: VERSION }], preferredVersion: { groupVersion: GROUP_VERSION, version: VERSION } }],
    });
  });
  router.get(`/apis/${GROUP}`, (_req, res) => {
    res.json({ kind: 'APIGroup', apiVersion: 'v1', name: GROUP, versions: [{ groupVersion: GROUP_VERSION, version: VERSION }], preferredVersion: { groupVersion: GROUP_VERSION, version: VERSION } });
  });
  router.get(`/apis/${GROUP_VERSION}`, (_req, res) => {
    res.json({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: GROUP_VERSION,
      resources: Object.keys(EXTERNAL_METRICS).map((name) => ({ name, singularName: '', namespaced: true, kind: 'ExternalMetricValueList', verbs: ['get'] })),
    });
  });

  router.get('/openapi/v2', (_req, res) => {
    res.json({ swagger: '2.0', info: { title: 'shadowscale external metrics', version: VERSION }, paths: {} });
  });
  return router;
}
