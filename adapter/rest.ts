/**
 * The adapter's REST API (the seeds' API) and KEDA's `metrics-api` endpoint:
 *   GET /predict/capacity?workload=&namespace=   forecast, bands, plan, rung, model
 *   GET /shadow/config                            shadow configuration of every workload
 *   GET /shadow/metrics                           planned shadow pool of every workload
 *   GET /keda/metrics?workload=&namespace=        flat JSON for KEDA's metrics-api scaler
 */
import { Router, type Request, type Response } from 'express';
import type { WorkloadConfig } from '../core/config.ts';
import type { ForecastLoop } from './forecast-loop.ts';
import type { AdapterMetrics } from './metrics.ts';

function problem(res: Response, code: number, message: string): void {
  res.status(code).json({ error: message });
}

/** Finds the one workload a request names; `namespace` may be left out when the name is unique. */
export function resolveWorkload(loop: ForecastLoop, name: unknown, namespace: unknown): WorkloadConfig | string {
  if (typeof name !== 'string' || name === '') return 'query parameter "workload" is required';
  const candidates = loop.workloads().filter((w) => w.name === name && (typeof namespace !== 'string' || namespace === '' || w.namespace === namespace));
  if (candidates.length === 0) return `no workload "${name}"${typeof namespace === 'string' && namespace ? ` in namespace "${namespace}"` : ''}`;
  if (candidates.length > 1) return `workload "${name}" exists in several namespaces (${candidates.map((w) => w.namespace).join(', ')}); add namespace=`;
  return candidates[0];
}

export function restRouter(loop: ForecastLoop, metrics: AdapterMetrics): Router {
  const router = Router({ caseSensitive: true, strict: true });

  const timed = (api: string, metric: string, handler: (req: Request, res: Response) => number) => (req: Request, res: Response) => {
    const started = performance.now();
    const code = handler(req, res);
    metrics.requestObserved(api, metric, String(code), (performance.now() - started) / 1000);
  };

  router.get(
    '/predict/capacity',
    timed('rest', 'predict_capacity', (req, res) => {
      const w = resolveWorkload(loop, req.query.workload, req.query.namespace);
      if (typeof w === 'string') {
        problem(res, w.startsWith('no workload') ? 404 : 400, w);
        return w.startsWith('no workload') ? 404 : 400;
      }
      const s = loop.snapshot(w.namespace, w.name)!;
      const v = loop.view(w.namespace, w.name)!;
      const f = s.forecast;
      res.json({
        workload: w.name,
        namespace: w.namespace,
        rung: v.rung,
        dryRun: w.dryRun,
        predictedLoad: v.served.predictedLoad,
        desiredReplicas: v.served.desiredReplicas,
        shadowPoolSize: v.served.shadowPoolSize,
        plan: v.plan,
        trusted: s.trusted,
        observed: s.observed ?? null,
        model: f ? { requested: w.model, used: f.model, rung: f.forecast.rung, detail: f.forecast.detail ?? null, fallbackReasons: f.forecast.fallbackReasons } : null,
        backtest: s.score ?? null,
        forecast: f
          ? {
              fittedAt: new Date(f.fittedAt).toISOString(),
              // The age counts from when its data was current, not from the fit.
              dataCurrentAt: new Date(f.freshAt ?? f.fittedAt).toISOString(),
              ageSeconds: v.forecastAgeSeconds,
              start: f.forecast.start,
              stepSeconds: f.forecast.stepSeconds,
              point: f.forecast.point,
              lower80: f.forecast.intervals[0.8].lower,
              upper80: f.forecast.intervals[0.8].upper,
              lower95: f.forecast.intervals[0.95].lower,
              upper95: f.forecast.intervals[0.95].upper,
              warnings: f.forecast.warnings,
            }
          : null,
        atHorizon: v.atHorizon ?? null,
        lastAttempt: s.lastAttempt ? { ...s.lastAttempt, at: new Date(s.lastAttempt.at).toISOString() } : null,
      });
      return 200;
    }),
  );

  router.get(
    '/shadow/config',
    timed('rest', 'shadow_config', (_req, res) => {
      res.json({
        workloads: loop.workloads().map((w) => ({
          workload: w.name,
          namespace: w.namespace,
          primary: w.primary,
          shadow: w.shadow ?? null,
          capacityPerReplica: w.capacityPerReplica,
          provisioningLagSeconds: w.provisioningLag,
        })),
      });
      return 200;
    }),
  );

  router.get(
    '/shadow/metrics',
    timed('rest', 'shadow_metrics', (_req, res) => {
      res.json({
        workloads: loop.workloads().map((w) => {
          const v = loop.served(w.namespace, w.name)!;
          return {
            workload: w.name,
            namespace: w.namespace,
            shadowPoolSize: v.served.shadowPoolSize,
            shadowCapacity: w.shadow ? w.capacityPerReplica * w.shadow.resourceFraction : 0,
            mirrorPercent: w.shadow?.mirrorPercent ?? 0,
            predictedLoad: v.served.predictedLoad,
            rung: v.rung,
          };
        }),
      });
      return 200;
    }),
  );

  router.get(
    '/keda/metrics',
    timed('metrics_api', 'keda', (req, res) => {
      const w = resolveWorkload(loop, req.query.workload, req.query.namespace);
      if (typeof w === 'string') {
        const code = w.startsWith('no workload') ? 404 : 400;
        problem(res, code, w);
        return code;
      }
      if (!loop.computed(w.namespace, w.name)) {
        problem(res, 503, `shadowscale is computing the first forecast of ${w.namespace}/${w.name}; retry shortly`);
        return 503;
      }
      const v = loop.served(w.namespace, w.name)!;
      // Plain numbers: KEDA's metrics-api reads them with `valueLocation`, e.g. predictedLoad.
      res.json({
        workload: w.name,
        namespace: w.namespace,
        predictedLoad: v.served.predictedLoad,
        desiredReplicas: v.served.desiredReplicas,
        shadowPoolSize: v.served.shadowPoolSize,
        capacityPerReplica: w.capacityPerReplica,
        rung: v.rung,
      });
      return 200;
    }),
  );
  return router;
}
