/**
 * `external.metrics.k8s.io/v1beta1` for the HPA: discovery documents and
 * `GET /apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}?labelSelector=...`, answered from
 * the forecast cache (never a Prometheus call on the request path). Errors are Kubernetes `Status`
 * objects, because that is what kubectl and the HPA controller print.
 */
import { Router, type Request, type Response } from 'express';
import type { ForecastLoop } from './forecast-loop.ts';
import type { AdapterMetrics } from './metrics.ts';
import { toQuantity } from '../platform/quantity.ts';
import { matches, parseSelector, SelectorError } from './selector.ts';
import type { WorkloadView } from './serving.ts';

export const GROUP = 'external.metrics.k8s.io';
export const VERSION = 'v1beta1';
const GROUP_VERSION = `${GROUP}/${VERSION}`;

/** The metrics served, and how each is read off a workload's view. */
export const EXTERNAL_METRICS: Record<string, { pick: (v: WorkloadView) => number; windowed: boolean }> = {
  shadowscale_predicted_load: { pick: (v) => v.served.predictedLoad, windowed: true },
  shadowscale_desired_replicas: { pick: (v) => v.served.desiredReplicas, windowed: false },
  shadowscale_shadow_pool_size: { pick: (v) => v.served.shadowPoolSize, windowed: false },
};

export function status(res: Response, code: number, reason: string, message: string): void {
  res.status(code).json({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function externalMetricsRouter(loop: ForecastLoop, metrics: AdapterMetrics, stepSeconds: () => number, now: () => number = Date.now): Router {
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

  router.get(`/apis/${GROUP_VERSION}/namespaces/:namespace/:metric`, (req: Request, res: Response) => {
    const started = performance.now();
    const { namespace, metric } = req.params as { namespace: string; metric: string };
    const done = (code: number) => metrics.requestObserved('external_metrics', EXTERNAL_METRICS[metric] ? metric : 'unknown', String(code), (performance.now() - started) / 1000);
    const definition = EXTERNAL_METRICS[metric];
    if (!definition) {
      status(res, 404, 'NotFound', `external metric "${metric}" is not served by shadowscale; served metrics: ${Object.keys(EXTERNAL_METRICS).join(', ')}`);
      return done(404);
    }
    const rawSelector = typeof req.query.labelSelector === 'string' ? req.query.labelSelector : '';
    let requirements;
    try {
      requirements = parseSelector(rawSelector);
    } catch (error) {
      if (!(error instanceof SelectorError)) throw error;
      status(res, 400, 'BadRequest', `invalid labelSelector for ${metric}: ${error.message}`);
      return done(400);
    }
    const at = now();
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
        status(res, 503, 'ServiceUnavailable', `shadowscale is computing the first forecast of ${w.namespace}/${w.name}; retry shortly`);
        return done(503);
      }
      const v = loop.view(w.namespace, w.name)!;
      items.push({
        metricName: metric,
        metricLabels: labels,
        timestamp: rfc3339(at),
        ...(definition.windowed ? { window: stepSeconds() } : {}),
        value: toQuantity(definition.pick(v)),
      });
    }
    // An empty list is an error to the HPA ("no metrics returned"); say why instead.
    if (items.length === 0) {
      status(res, 404, 'NotFound', `no shadowscale workload in namespace "${namespace}" matches labelSelector "${rawSelector}" (labels are workload and namespace)`);
      return done(404);
    }
    res.json({ kind: 'ExternalMetricValueList', apiVersion: GROUP_VERSION, metadata: {}, items });
    done(200);
  });

  router.get('/openapi/v2', (_req, res) => {
    res.json({ swagger: '2.0', info: { title: 'shadowscale external metrics', version: VERSION }, paths: {} });
  });
  return router;
}
