/**
 * The adapter's own metrics, declared in one place (prom-client). The forecasts are metrics too, so
 * Prometheus can compare them with what happened. Per-workload gauges are computed at scrape time from
 * the same view the HPA and KEDA are served, so /metrics never disagrees with them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { WorkloadConfig } from '../core/config.ts';
import { MODEL_NAMES } from '../core/forecast/types.ts';
import type { ForecastLoop } from './forecast-loop.ts';
import { PrometheusQueryError } from '../platform/prometheus.ts';
import { SERVING_RUNGS } from './serving.ts';
import { SIDES, type CounterfactualTotals, type Side } from './counterfactual.ts';

const QUANTILES = [
  ['0.5', 'point'],
  ['0.1', 'lower80'],
  ['0.9', 'upper80'],
  ['0.025', 'lower95'],
  ['0.975', 'upper95'],
] as const;

type Item = ReturnType<ForecastLoop['all']> extends Generator<infer T> ? T : never;

/** Workloads handled between two turns of the event loop while /metrics is rendered. */
const SLICE = 100;
const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Series formatted between two turns of the event loop while /metrics is rendered. */
const SERIES_SLICE = 250;

/** The Prometheus text format (0.0.4) as prom-client writes it: `\`, newline and `"` escaped. */
const escapeText = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (v: unknown) => (typeof v === 'string' ? escapeText(v).replace(/"/g, '\\"') : String(v));
const formatValue = (v: number) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));

/**
 * One metric family in the text format, as `registry.getSingleMetricAsString` writes it (no default
 * labels, no exemplars: this registry has neither), yielding to the event loop every SERIES_SLICE series.
 */
export async function formatSliced(metric: MetricObjectWithValues<MetricValue<string>>): Promise<string> {
  const name = escapeText(metric.name);
  const lines = [`# HELP ${name} ${escapeText(metric.help)}`, `# TYPE ${name} ${metric.type}`];
  const values = metric.values as Array<MetricValue<string> & { metricName?: string }>;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let labels = '';
    for (const [k, value] of Object.entries(v.labels)) if (value !== undefined) labels += `${labels ? ',' : ''}${k}="${escapeLabel(value)}"`;
    lines.push(`${v.metricName ?? name}${labels ? `{${labels}}` : ''} ${formatValue(v.value)}`);
    if ((i + 1) % SERIES_SLICE === 0) await yieldToRequests();
  }
  return lines.join('\n');
}

export interface AdapterMetrics {
  registry: Registry;
  /** The text of /metrics, rendered in slices; scrapes that arrive during a rendering share it. */
  render(): Promise<string>;
  queryObserved(w: WorkloadConfig, seconds: number, error?: Error): void;
  fitObserved(w: WorkloadConfig, seconds: number, error?: Error): void;
  requestObserved(api: string, metric: string, code: string, seconds: number): void;
}

export function createAdapterMetrics(loop: ForecastLoop, ttlSeconds: number): AdapterMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'shadowscale_adapter_' });
  const wl = ['workload', 'namespace'] as const;

  // A scrape of a thousand workloads renders some 35,000 series (300-500 ms of work): done in slices,
  // with the event loop free between them for the HPA's and KEDA's requests, on one snapshot of the
  // workloads' views taken once per scrape (not once per gauge), one rendering at a time.
  let snapshot: Item[] | undefined;
  const each = async (fn: (labels: { workload: string; namespace: string }, item: Item) => void) => {
    const items = snapshot ?? [...loop.all()];
    for (let i = 0; i < items.length; i++) {
      fn({ workload: items[i].state.config.name, namespace: items[i].state.config.namespace }, items[i]);
      if ((i + 1) % SLICE === 0) await yieldToRequests();
    }
  };
  let rendering: Promise<string> | undefined;
  const render = () =>
    (rendering ??= (async () => {
      try {
        const items: Item[] = [];
        for (const item of loop.all()) if (items.push(item) % SLICE === 0) await yieldToRequests();
        snapshot = items;
        // One metric at a time, and a large one in slices of its series: prom-client formats a metric
        // in one go, and a gauge of 5,000 series (five quantiles of a thousand workloads) takes 10-50 ms
        // to format, which the HPA's requests arriving meanwhile would wait for. Joined as
        // registry.metrics() joins them.
        const parts: string[] = [];
        for (const metric of registry.getMetricsAsArray()) {
          parts.push(await formatSliced(await registry.getSingleMetric(metric.name)!.get()));
          await yieldToRequests();
        }
        return `${parts.join('\n\n')}\n`;
      } finally {
        snapshot = undefined;
        rendering = undefined;
      }
    })());

  new Gauge({
    name: 'shadowscale_forecast_load',
    help: 'Forecast of the workload load one provisioning lag ahead: quantile 0.5 is the point forecast, 0.1/0.9 the 80 % band, 0.025/0.975 the 95 % band. Compare with shadowscale_forecast_lagged_load to judge accuracy.',
    labelNames: [...wl, 'quantile'],
    registers: [registry],
    async collect() {
      this.reset();
      await each((labels, { view }) => {
        if (!view.atHorizon) return;
        for (const [quantile, field] of QUANTILES) this.set({ ...labels, quantile }, view.atHorizon[field]);
      });
    },
  });
  new Gauge({
    name: 'shadowscale_forecast_lagged_load',
    help: 'The forecast made one provisioning lag ago for the present moment (same quantiles as shadowscale_forecast_load); subtract the observed load to get the forecast error.',
    labelNames: [...wl, 'quantile'],
    registers: [registry],
    async collect() {
      this.reset();
      await each((labels, { view }) => {
        if (!view.forNow) return;
        for (const [quantile, field] of QUANTILES) this.set({ ...labels, quantile }, view.forNow[field]);
      });
    },
  });
  const counterfactual = (name: string, help: string, pick: (t: CounterfactualTotals, side: Side) => number) =>
    new Gauge({
      name,
      help,
      labelNames: [...wl, 'side'],
      registers: [registry],
      async collect() {
        this.reset();
        const now = loop.nowSeconds();
        await each((labels, { state }) => {
          const totals = state.counterfactual?.totals(now);
          if (!totals || totals.seconds === 0) return;
          for (const side of SIDES) {
            const value = pick(totals, side);
            if (Number.isFinite(value)) this.set({ ...labels, side }, value);
          }
        });
      },
    });
  counterfactual(
    'shadowscale_whatif_unserved_ratio',
    'Dry-run workloads, over the last day: the share of the observed load that would have gone unserved with the HPA asked what it is asked now (side="hpa") and with it asked what the plan would ask (side="shadowscale"), each through the HPA algorithm and replicas that take the provisioning lag to be ready.',
    (t, side) => (t.load > 0 ? t.unserved[side] / t.load : 0),
  );
  counterfactual('shadowscale_whatif_replica_seconds', 'Dry-run workloads, over the last day: the replica-seconds each side (as shadowscale_whatif_unserved_ratio) would have cost.', (t, side) => t.replicaSeconds[side]);
  const served = (name: string, help: string, pick: (v: ReturnType<ForecastLoop['all']> extends Generator<infer T> ? T : never) => number) =>
    new Gauge({
      name,
      help,
      labelNames: [...wl],
      registers: [registry],
      async collect() {
        this.reset();
        // Unknown is absent, not NaN: one NaN sample would poison every *_over_time of the rules.
        await each((labels, item) => {
          const value = pick(item);
          if (Number.isFinite(value)) this.set(labels, value);
        });
      },
    });
  served('shadowscale_predicted_load', 'Load the workload is planned for (served to the HPA and KEDA): the peak of the forecast bound over the provisioning lag, never below the observed load.', ({ view }) => view.served.predictedLoad);
  served('shadowscale_desired_replicas', 'Replicas served to the HPA and KEDA (the reactive value in dry-run mode), in pods of the set that serves: after a promotion onto shadows at resourceFraction, the forecast plan divided by it.', ({ view }) => view.served.desiredReplicas);
  served('shadowscale_shadow_pool_size', 'Shadow replicas the planner wants warm for the increase to come.', ({ view }) => view.served.shadowPoolSize);
  served('shadowscale_forecast_desired_replicas', 'Primary replicas the forecast plan asks for, even in dry-run mode: compare with shadowscale_desired_replicas before trusting it.', ({ view }) => view.plan.desiredReplicas);
  served('shadowscale_load_lag_volatility', 'How much the load moves over one provisioning lag (root mean square of its changes in the last hour); the plan keeps twice this as headroom while the learned headroom is unknown.', ({ state }) => state.lagVolatility ?? NaN);
  served('shadowscale_whatif_window_seconds', 'Dry-run workloads: the seconds of the last day the counterfactual (shadowscale_whatif_*) observed; it starts with the adapter.', ({ state }) => state.counterfactual?.totals(loop.nowSeconds()).seconds ?? NaN);
  served('shadowscale_load_headroom', 'Headroom the plan keeps above the observed load: the headroomQuantile of how far the load rose within one provisioning lag (and the time the adapter takes to see it) over the last day.', ({ state }) => state.riseHeadroom ?? NaN);
  served('shadowscale_observed_load', 'The last observed value of the workload load query.', ({ state }) => state.observed?.value ?? NaN);
  served('shadowscale_capacity_per_replica', 'Configured load one replica serves within its SLO.', ({ state }) => state.config.capacityPerReplica);
  served('shadowscale_forecast_trusted', '1 when the forecast beat seasonal-naive on its own backtest with a calibrated 95 % band, so the upper bound is planned on; 0 when the point forecast is.', ({ state }) => (state.trusted ? 1 : 0));
  served('shadowscale_forecast_age_seconds', 'Seconds since the forecast served was fitted; beyond the TTL the adapter falls back to the observed load.', ({ view }) => view.forecastAgeSeconds ?? NaN);
  served('shadowscale_dry_run', '1 when the workload is in forecast-only mode (served replicas are reactive).', ({ state }) => (state.config.dryRun ? 1 : 0));
  served('shadowscale_provisioning_lag_seconds', 'Configured start-up time of a new replica; the forecast horizon served.', ({ state }) => state.config.provisioningLag);
  served('shadowscale_fit_last_duration_seconds', 'Duration of the last forecast fit (worker thread), including the backtest when one ran.', ({ state }) => state.lastFitSeconds ?? NaN);
  served('shadowscale_shadow_mirror_percent', 'Configured share of primary requests mirrored to the shadows, in percent.', ({ state }) => state.config.shadow?.mirrorPercent ?? NaN);
  served('shadowscale_last_refresh_success', '1 when the last refresh (query and fit) of the workload succeeded.', ({ state }) => (state.lastAttempt?.ok ? 1 : 0));

  new Gauge({
    name: 'shadowscale_workload_bound',
    help: 'Per-workload bounds from the shadowscale configuration, read by the recording and alerting rules (bound: latency_p99_seconds, error_ratio, min_request_rate, shadow_latency_ratio_max, shadow_error_ratio_diff_max, mirror_coverage_tolerance, anomaly_zscore, forecast_ttl_seconds, forecast_relative_error_max, forecast_coverage95_min).',
    labelNames: [...wl, 'bound'],
    registers: [registry],
    async collect() {
      this.reset();
      await each((labels, { state }) => {
        const w = state.config;
        const bounds: Record<string, number> = {
          latency_p99_seconds: w.slo.latencyP99,
          error_ratio: w.slo.errorRatio,
          min_request_rate: w.slo.minRequestRate,
          anomaly_zscore: w.anomalyZScore,
          forecast_ttl_seconds: ttlSeconds,
          forecast_relative_error_max: w.accuracy.relativeErrorMax,
          forecast_coverage95_min: w.accuracy.coverage95Min,
        };
        if (w.shadow) {
          bounds.shadow_latency_ratio_max = w.shadow.readiness.latencyRatioMax;
          bounds.shadow_error_ratio_diff_max = w.shadow.readiness.errorRatioDiffMax;
          bounds.mirror_coverage_tolerance = w.shadow.readiness.coverageTolerance;
        }
        for (const [bound, value] of Object.entries(bounds)) this.set({ ...labels, bound }, value);
      });
    },
  });
  new Gauge({
    name: 'shadowscale_workload_latency_slo_bucket',
    help: 'The histogram bucket whose upper edge is the workload latency SLO (le as scraped), value the SLO in seconds; absent when the SLO is not an edge. The rules count requests slower than the SLO above it.',
    labelNames: [...wl, 'le'],
    registers: [registry],
    async collect() {
      this.reset();
      await each((labels, { state }) => {
        if (state.latencySloBucket !== undefined) this.set({ ...labels, le: state.latencySloBucket }, state.config.slo.latencyP99);
      });
    },
  });
  new Gauge({
    name: 'shadowscale_workload_deployment_info',
    help: 'The Deployments (or StatefulSets) the configuration names for each workload, value 1: configured_role primary or shadow. The rules take the roles from these when the receiver exports none (shadowscale_workload_serving_share).',
    labelNames: [...wl, 'deployment', 'configured_role'],
    registers: [registry],
    async collect() {
      this.reset();
      await each((labels, { state }) => {
        const w = state.config;
        this.set({ ...labels, deployment: w.primary.name, configured_role: 'primary' }, 1);
        if (w.shadow) this.set({ ...labels, deployment: w.shadow.name, configured_role: 'shadow' }, 1);
      });
    },
  });
  new Gauge({
    name: 'shadowscale_serving_rung',
    help: 'Which rung of the fallback ladder is served (1 for the current one): fresh forecast, stale forecast within the TTL, reactive (observed load), minimum.',
    labelNames: [...wl, 'rung'],
    registers: [registry],
    async collect() {
      this.reset();
      await each((labels, { view }) => {
        for (const rung of SERVING_RUNGS) this.set({ ...labels, rung }, rung === view.rung ? 1 : 0);
      });
    },
  });
  new Gauge({
    name: 'shadowscale_forecast_model',
    help: 'The model producing the forecast (1 for the one in use), and the rung of the model ladder it came from.',
    labelNames: [...wl, 'model', 'rung'],
    registers: [registry],
    async collect() {
      this.reset();
      await each((labels, { state }) => {
        if (!state.forecast) return;
        this.set({ ...labels, model: state.forecast.model, rung: state.forecast.forecast.rung }, 1);
      });
    },
  });
  new Gauge({
    name: 'shadowscale_backtest_error',
    help: 'The forecast model\'s error on its own rolling-origin backtest at the provisioning lag: metric="relative_mae" (MAE ÷ seasonal-naive MAE; below 1 beats it), "mae", "coverage80" and "coverage95" (share of actuals inside the bands).',
    labelNames: [...wl, 'metric'],
    registers: [registry],
    async collect() {
      this.reset();
      await each((labels, { state }) => {
        const s = state.score;
        if (!s) return;
        if (s.relMae !== null) this.set({ ...labels, metric: 'relative_mae' }, s.relMae);
        this.set({ ...labels, metric: 'mae' }, s.mae);
        this.set({ ...labels, metric: 'coverage80' }, s.coverage80);
        this.set({ ...labels, metric: 'coverage95' }, s.coverage95);
      });
    },
  });

  new Gauge({
    name: 'shadowscale_backtest_timestamp_seconds',
    help: 'When the workload\'s backtest score (shadowscale_backtest_error) was computed, for which model, over how many folds, and for which settings (`spec`, a hash): a restarted adapter reads the scores back instead of running every backtest again.',
    labelNames: [...wl, 'model', 'folds', 'spec'],
    registers: [registry],
    async collect() {
      this.reset();
      await each((labels, { state }) => {
        const s = state.score;
        if (!s || !state.chosenModel) return;
        this.set({ ...labels, model: state.chosenModel, folds: String(s.folds), spec: loop.scoreSpec(state.config) }, s.at / 1000);
      });
    },
  });

  const fitDuration = new Histogram({
    name: 'shadowscale_fit_duration_seconds',
    help: 'Duration of forecast fits in the worker pool, including the backtest when one ran.',
    labelNames: ['model', 'result'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const queryDuration = new Histogram({
    name: 'shadowscale_prometheus_query_duration_seconds',
    help: 'Duration of load-history queries to Prometheus, including retries.',
    labelNames: ['result'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const queryErrors = new Counter({
    name: 'shadowscale_prometheus_query_errors_total',
    help: 'Failed load-history queries by workload and Prometheus errorType (bad_data: fix the PromQL; unavailable/timeout: Prometheus unreachable).',
    labelNames: [...wl, 'error_type'],
    registers: [registry],
  });
  const fitErrors = new Counter({
    name: 'shadowscale_fit_errors_total',
    help: 'Failed forecast fits by workload; the previous forecast is served until the TTL.',
    labelNames: [...wl],
    registers: [registry],
  });
  const requests = new Histogram({
    name: 'shadowscale_adapter_request_duration_seconds',
    help: 'Requests to the adapter by API (external_metrics, keda_grpc, metrics_api, rest), metric and status code.',
    labelNames: ['api', 'metric', 'code'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  // Pre-create the label sets a dashboard expects to see at zero.
  for (const model of MODEL_NAMES) fitDuration.zero({ model, result: 'ok' });

  return {
    registry,
    render,
    queryObserved(w, seconds, error) {
      queryDuration.observe({ result: error ? 'error' : 'ok' }, seconds);
      if (error) {
        const errorType = error instanceof PrometheusQueryError ? (error.errorType ?? `http_${error.status}`) : 'invalid_result';
        queryErrors.inc({ workload: w.name, namespace: w.namespace, error_type: errorType });
      }
    },
    fitObserved(w, seconds, error) {
      fitDuration.observe({ model: w.model === 'auto' ? 'auto' : w.model, result: error ? 'error' : 'ok' }, seconds);
      if (error) fitErrors.inc({ workload: w.name, namespace: w.namespace });
    },
    requestObserved(api, metric, code, seconds) {
      requests.observe({ api, metric, code }, seconds);
    },
  };
}
