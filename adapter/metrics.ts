/**
 * The adapter's own metrics, declared in one place (prom-client). The forecasts are metrics too, so
 * Prometheus can compare them with what happened. Per-workload gauges are computed at scrape time from
 * the same view the HPA and KEDA are served, so /metrics never disagrees with them.
 */
import type { ServerResponse } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';
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

/** Milliseconds of rendering /metrics between two turns of the event loop. */
const SLICE_MS = 2;
const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Series formatted between two turns of the event loop while a prom-client family is rendered. */
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

/** The most a single write of /metrics hands the socket. */
const WRITE_BYTES = 64 * 1024;

/**
 * Sends a rendering of /metrics (render()'s chunks) with its length, at most WRITE_BYTES a write and one
 * write a turn of the event loop (waiting for the socket to drain when its buffer is full): sent at
 * once, as one 3 MB string, it took 20-38 ms of the thread that serves the HPA (its conversion to bytes
 * and one write of all of it). A client that goes away stops it.
 */
export async function writeChunks(res: ServerResponse, contentType: string, chunks: readonly Buffer[]): Promise<void> {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': length });
  for (const chunk of chunks) {
    for (let offset = 0; offset < chunk.length; offset += WRITE_BYTES) {
      if (res.destroyed) return;
      if (!res.write(chunk.subarray(offset, offset + WRITE_BYTES)))
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      // A turn of the event loop after every piece, drained or not: a socket that takes a piece larger
      // than the response's buffer at once drains within the same turn, and every piece would go out in it.
      await yieldToRequests();
    }
  }
  if (!res.destroyed) res.end();
}

/** One workload's samples of one family as the last scrape wrote them (values, extra labels as emit() flattens them) and their text. */
interface WrittenSamples {
  values: number[];
  labelPairs: string[];
  bytes: Buffer;
}

function sameSamples(last: WrittenSamples, values: readonly number[], labelPairs: readonly string[]): boolean {
  if (last.values.length !== values.length || last.labelPairs.length !== labelPairs.length) return false;
  for (let k = 0; k < values.length; k++) if (!Object.is(last.values[k], values[k])) return false;
  for (let k = 0; k < labelPairs.length; k++) if (last.labelPairs[k] !== labelPairs[k]) return false;
  return true;
}

/** The text of a workload's samples of a family, a line each. */
function sampleLines(name: string, prefix: string, values: readonly number[], labelPairs: readonly string[]): string {
  let text = '';
  for (let k = 0, p = 0; k < values.length; k++) {
    let labels = prefix;
    for (let n = Number(labelPairs[p++]); n > 0; n--, p += 2) labels += `,${labelPairs[p]}="${escapeLabel(labelPairs[p + 1])}"`;
    text += `${name}{${labels}} ${formatValue(values[k])}\n`;
  }
  return text;
}

/** Writes one sample of a per-workload family: its value, and its labels beyond workload and namespace. */
type Emit = (value: number, labels?: Record<string, string>) => void;

/**
 * A gauge with a series (or a few) per workload, written as text straight from the workloads' views at
 * each scrape: with a thousand workloads these are some 35,000 series, and setting them in prom-client
 * gauges and formatting those again took 200-400 ms of the thread that serves the HPA at every scrape.
 */
interface WorkloadFamily {
  name: string;
  help: string;
  samples(item: Item, emit: Emit, nowSeconds: number): void;
}

export interface AdapterMetrics {
  /** The process's own metrics and the adapter's counters and histograms (the per-workload gauges are written by render()). */
  registry: Registry;
  /**
   * The text of /metrics (UTF-8), rendered in slices, as the chunks the slices wrote (writeChunks sends
   * them); scrapes that arrive during a rendering share it.
   */
  render(): Promise<Buffer[]>;
  queryObserved(w: WorkloadConfig, seconds: number, error?: Error): void;
  fitObserved(w: WorkloadConfig, seconds: number, error?: Error): void;
  /** A refresh kept the last forecast (nothing it is fitted on had changed). */
  fitKept(w: WorkloadConfig): void;
  requestObserved(api: string, metric: string, code: string, seconds: number): void;
}

/** The per-workload gauges, in the order /metrics lists them. */
function workloadFamilies(loop: ForecastLoop, ttlSeconds: number): WorkloadFamily[] {
  const counterfactual = (name: string, help: string, pick: (t: CounterfactualTotals, side: Side) => number): WorkloadFamily => ({
    name,
    help,
    samples({ state }, emit, now) {
      const totals = state.counterfactual?.totals(now);
      if (!totals || totals.seconds === 0) return;
      for (const side of SIDES) {
        const value = pick(totals, side);
        if (Number.isFinite(value)) emit(value, { side });
      }
    },
  });
  // Unknown is absent, not NaN: one NaN sample would poison every *_over_time of the rules.
  const served = (name: string, help: string, pick: (item: Item, now: number) => number): WorkloadFamily => ({
    name,
    help,
    samples(item, emit, now) {
      const value = pick(item, now);
      if (Number.isFinite(value)) emit(value);
    },
  });
  return [
    {
      name: 'shadowscale_forecast_load',
      help: 'Forecast of the workload load one provisioning lag ahead: quantile 0.5 is the point forecast, 0.1/0.9 the 80 % band, 0.025/0.975 the 95 % band. Compare with shadowscale_forecast_lagged_load to judge accuracy.',
      samples({ view }, emit) {
        if (view.atHorizon) for (const [quantile, field] of QUANTILES) emit(view.atHorizon[field], { quantile });
      },
    },
    {
      name: 'shadowscale_forecast_lagged_load',
      help: 'The forecast made one provisioning lag ago for the present moment (same quantiles as shadowscale_forecast_load); subtract the observed load to get the forecast error.',
      samples({ view }, emit) {
        if (view.forNow) for (const [quantile, field] of QUANTILES) emit(view.forNow[field], { quantile });
      },
    },
    counterfactual(
      'shadowscale_whatif_unserved_ratio',
      'Dry-run workloads, over the last day: the share of the observed load that would have gone unserved with the HPA asked what it is asked now (side="hpa") and with it asked what the plan would ask (side="shadowscale"), each through the HPA algorithm and replicas that take the provisioning lag to be ready.',
      (t, side) => (t.load > 0 ? t.unserved[side] / t.load : 0),
    ),
    counterfactual('shadowscale_whatif_replica_seconds', 'Dry-run workloads, over the last day: the replica-seconds each side (as shadowscale_whatif_unserved_ratio) would have cost.', (t, side) => t.replicaSeconds[side]),
    served('shadowscale_predicted_load', 'Load the workload is planned for (served to the HPA and KEDA), headroom included: with plan level, the larger of the observed load and the point forecast\'s peak over the provisioning lag, divided by targetUtilization; with plan anchored, the observed load plus the forecast\'s rise over the lag plus the learned headroom.', ({ view }) => view.served.predictedLoad),
    served('shadowscale_desired_replicas', 'Replicas served to the HPA and KEDA (the reactive value in dry-run mode), in pods of the set that serves: after a promotion onto shadows at resourceFraction, the forecast plan divided by it.', ({ view }) => view.served.desiredReplicas),
    served('shadowscale_shadow_pool_size', 'Shadow replicas the planner wants warm: shadow.minReplicas under the level plan, plus one per share of the rise to come under plan: anchored.', ({ view }) => view.served.shadowPoolSize),
    served('shadowscale_forecast_desired_replicas', 'Primary replicas the forecast plan asks for, even in dry-run mode: compare with shadowscale_desired_replicas before trusting it.', ({ view }) => view.plan.desiredReplicas),
    served('shadowscale_load_lag_volatility', 'How much the load moves over one provisioning lag (root mean square of its changes in the last hour); with plan anchored, the plan keeps twice this as headroom while the learned headroom is unknown.', ({ state }) => state.lagVolatility ?? NaN),
    served('shadowscale_whatif_window_seconds', 'Dry-run workloads: the seconds of the last day the counterfactual (shadowscale_whatif_*) observed; it starts with the adapter.', ({ state }, now) => state.counterfactual?.totals(now).seconds ?? NaN),
    served('shadowscale_load_headroom', 'The headroomQuantile of how far the load rose within one provisioning lag (and the time the adapter takes to see it) over the last day: the headroom the plan keeps above the observed load with plan anchored.', ({ state }) => state.riseHeadroom ?? NaN),
    served('shadowscale_observed_load', 'The last observed value of the workload load query.', ({ state }) => state.observed?.value ?? NaN),
    served('shadowscale_capacity_per_replica', 'Configured load one replica serves within its SLO.', ({ state }) => state.config.capacityPerReplica),
    served('shadowscale_forecast_trusted', '1 when the forecast beat seasonal-naive on its own backtest with a calibrated 95 % band; with plan anchored and no headroom known yet, the upper bound is then planned on (the level plan always plans on the point forecast).', ({ state }) => (state.trusted ? 1 : 0)),
    served('shadowscale_forecast_age_seconds', 'Seconds since the forecast served was fitted; beyond the TTL the adapter falls back to the observed load.', ({ view }) => view.forecastAgeSeconds ?? NaN),
    served('shadowscale_dry_run', '1 when the workload is in forecast-only mode (served replicas are reactive).', ({ state }) => (state.config.dryRun ? 1 : 0)),
    served('shadowscale_provisioning_lag_seconds', 'Configured start-up time of a new replica; the forecast horizon served.', ({ state }) => state.config.provisioningLag),
    served('shadowscale_fit_last_duration_seconds', 'Duration of the last forecast fit (worker thread), including the backtest when one ran.', ({ state }) => state.lastFitSeconds ?? NaN),
    served('shadowscale_shadow_mirror_percent', 'Configured share of primary requests mirrored to the shadows, in percent.', ({ state }) => state.config.shadow?.mirrorPercent ?? NaN),
    served('shadowscale_last_refresh_success', '1 when the last refresh (query and fit) of the workload succeeded.', ({ state }) => (state.lastAttempt?.ok ? 1 : 0)),
    {
      name: 'shadowscale_workload_bound',
      help: 'Per-workload bounds from the shadowscale configuration, read by the recording and alerting rules (bound: latency_p99_seconds, error_ratio, min_request_rate, shadow_latency_ratio_max, shadow_error_ratio_diff_max, mirror_coverage_tolerance, anomaly_zscore, forecast_ttl_seconds, forecast_relative_error_max, forecast_coverage95_min).',
      samples({ state }, emit) {
        const w = state.config;
        emit(w.slo.latencyP99, { bound: 'latency_p99_seconds' });
        emit(w.slo.errorRatio, { bound: 'error_ratio' });
        emit(w.slo.minRequestRate, { bound: 'min_request_rate' });
        emit(w.anomalyZScore, { bound: 'anomaly_zscore' });
        emit(ttlSeconds, { bound: 'forecast_ttl_seconds' });
        emit(w.accuracy.relativeErrorMax, { bound: 'forecast_relative_error_max' });
        emit(w.accuracy.coverage95Min, { bound: 'forecast_coverage95_min' });
        if (w.shadow) {
          emit(w.shadow.readiness.latencyRatioMax, { bound: 'shadow_latency_ratio_max' });
          emit(w.shadow.readiness.errorRatioDiffMax, { bound: 'shadow_error_ratio_diff_max' });
          emit(w.shadow.readiness.coverageTolerance, { bound: 'mirror_coverage_tolerance' });
        }
      },
    },
    {
      name: 'shadowscale_workload_latency_slo_bucket',
      help: 'The histogram bucket whose upper edge is the workload latency SLO (le as scraped), value the SLO in seconds; absent when the SLO is not an edge. The rules count requests slower than the SLO above it.',
      samples({ state }, emit) {
        if (state.latencySloBucket !== undefined) emit(state.config.slo.latencyP99, { le: state.latencySloBucket });
      },
    },
    {
      name: 'shadowscale_workload_deployment_info',
      help: 'The Deployments (or StatefulSets) the configuration names for each workload, value 1: configured_role primary or shadow. The rules take the roles from these when the receiver exports none (shadowscale_workload_serving_share).',
      samples({ state }, emit) {
        const w = state.config;
        emit(1, { deployment: w.primary.name, configured_role: 'primary' });
        if (w.shadow) emit(1, { deployment: w.shadow.name, configured_role: 'shadow' });
      },
    },
    {
      name: 'shadowscale_serving_rung',
      help: 'Which rung of the fallback ladder is served (1 for the current one): fresh forecast, stale forecast within the TTL, reactive (observed load), minimum.',
      samples({ view }, emit) {
        for (const rung of SERVING_RUNGS) emit(rung === view.rung ? 1 : 0, { rung });
      },
    },
    {
      name: 'shadowscale_forecast_model',
      help: 'The model producing the forecast (1 for the one in use), and the rung of the model ladder it came from.',
      samples({ state }, emit) {
        if (state.forecast) emit(1, { model: state.forecast.model, rung: state.forecast.forecast.rung });
      },
    },
    {
      name: 'shadowscale_backtest_error',
      help: "The forecast model's error on its own rolling-origin backtest at the provisioning lag: metric=\"relative_mae\" (MAE ÷ seasonal-naive MAE; below 1 beats it), \"mae\", \"coverage80\" and \"coverage95\" (share of actuals inside the bands).",
      samples({ state }, emit) {
        const s = state.score;
        if (!s) return;
        if (s.relMae !== null) emit(s.relMae, { metric: 'relative_mae' });
        emit(s.mae, { metric: 'mae' });
        emit(s.coverage80, { metric: 'coverage80' });
        emit(s.coverage95, { metric: 'coverage95' });
      },
    },
    {
      name: 'shadowscale_backtest_timestamp_seconds',
      help: "When the workload's backtest score (shadowscale_backtest_error) was computed, for which model, over how many folds, and for which settings (`spec`, a hash): a restarted adapter reads the scores back instead of running every backtest again.",
      samples({ state }, emit) {
        const s = state.score;
        if (s && state.chosenModel) emit(s.at / 1000, { model: state.chosenModel, folds: String(s.folds), spec: loop.scoreSpec(state.config) });
      },
    },
  ];
}

/**
 * @param sliceMs milliseconds of rendering /metrics between two turns of the event loop (SLICE_MS; the
 * rendering yields no more often than every 20 workloads of a family).
 */
export function createAdapterMetrics(loop: ForecastLoop, ttlSeconds: number, sliceMs = SLICE_MS): AdapterMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'shadowscale_adapter_' });
  const families = workloadFamilies(loop, ttlSeconds);

  // A scrape of a thousand workloads writes some 35,000 series (3 MB): in slices of about sliceMs,
  // with the event loop free between them for the HPA's and KEDA's requests, from one snapshot of the
  // workloads' views taken once per scrape, one rendering at a time. Each slice's text becomes one
  // chunk at the end of the slice: joining the whole text at the end held the thread for 8-15 ms, and
  // sending it as one string another 20-38 ms (a scrape's longest pause, 31-57 ms, measured on 1,000
  // workloads), where these chunks are written one at a time (writeChunks).
  // A workload's samples of a family that are what they were at the last scrape reuse the bytes
  // written then (most do: the configuration's bounds, the scores, a forecast that is fitted once per
  // step): formatting every number and encoding 3 MB of strings at every scrape was most of its CPU,
  // and most of the garbage its collections on the serving thread had to go through.
  const written = new WeakMap<object, { name: string; namespace: string; prefix: string; families: Array<WrittenSamples | undefined> }>();
  const headers = families.map((family) => Buffer.from(`# HELP ${family.name} ${escapeText(family.help)}\n# TYPE ${family.name} gauge\n`));
  const blankLine = Buffer.from('\n');
  let rendering: Promise<Buffer[]> | undefined;
  const render = () =>
    (rendering ??= (async () => {
      try {
        const chunks: Buffer[] = [];
        let pieces: Buffer[] = [];
        // The pieces so far as one chunk.
        const flush = () => {
          if (pieces.length > 0) chunks.push(Buffer.concat(pieces));
          pieces = [];
        };
        let sliceStart = performance.now();
        const slice = async () => {
          if (performance.now() - sliceStart < sliceMs) return;
          flush();
          await yieldToRequests();
          sliceStart = performance.now();
        };
        const items: Item[] = [];
        for (const item of loop.all()) if (items.push(item) % 20 === 0) await slice();
        const nowSeconds = loop.nowSeconds();
        // prom-client's families one at a time, a large one in slices of its series, then the
        // per-workload gauges; a blank line between two families.
        let familiesStarted = 0;
        const startFamily = () => {
          if (familiesStarted++ > 0) pieces.push(blankLine);
        };
        for (const metric of registry.getMetricsAsArray()) {
          startFamily();
          pieces.push(Buffer.from(`${await formatSliced(await registry.getSingleMetric(metric.name)!.get())}\n`));
          flush();
          await yieldToRequests();
          sliceStart = performance.now();
        }
        const records = items.map(({ state }) => {
          const { name, namespace } = state.config;
          let record = written.get(state);
          if (!record || record.name !== name || record.namespace !== namespace) {
            record = { name, namespace, prefix: `workload="${escapeLabel(name)}",namespace="${escapeLabel(namespace)}"`, families: [] };
            written.set(state, record);
          }
          return record;
        });
        // A workload's samples of the family at hand: their values, and their extra labels as name, value, name, value...
        const values: number[] = [];
        const labelPairs: string[] = [];
        const emit: Emit = (value, labels) => {
          values.push(value);
          // How many pairs follow (a small integer's string is cached by V8: nothing is allocated).
          const count = labelPairs.push('0') - 1;
          let n = 0;
          if (labels)
            for (const k in labels) {
              labelPairs.push(k, labels[k]);
              n++;
            }
          if (n > 0) labelPairs[count] = String(n);
        };
        for (let f = 0; f < families.length; f++) {
          const family = families[f];
          startFamily();
          pieces.push(headers[f]);
          for (let i = 0; i < items.length; i++) {
            values.length = 0;
            labelPairs.length = 0;
            family.samples(items[i], emit, nowSeconds);
            const record = records[i];
            const last = record.families[f];
            if (values.length === 0) record.families[f] = undefined;
            else if (last && sameSamples(last, values, labelPairs)) pieces.push(last.bytes);
            else {
              const bytes = Buffer.from(sampleLines(family.name, record.prefix, values, labelPairs));
              record.families[f] = { values: values.slice(), labelPairs: labelPairs.slice(), bytes };
              pieces.push(bytes);
            }
            if ((i + 1) % 20 === 0) await slice();
          }
        }
        flush();
        return chunks;
      } finally {
        rendering = undefined;
      }
    })());

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
    labelNames: ['workload', 'namespace', 'error_type'],
    registers: [registry],
  });
  const kept = new Counter({
    name: 'shadowscale_forecasts_kept_total',
    help: 'Refreshes that kept the last forecast instead of fitting it again, because neither the history nor the fit settings had changed (no new sample yet: the load is sampled at a step longer than the refresh).',
    labelNames: ['model'],
    registers: [registry],
  });
  const fitErrors = new Counter({
    name: 'shadowscale_fit_errors_total',
    help: 'Failed forecast fits by workload; the previous forecast is served until the TTL.',
    labelNames: ['workload', 'namespace'],
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
  for (const model of MODEL_NAMES) {
    fitDuration.zero({ model, result: 'ok' });
    kept.inc({ model }, 0);
  }

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
    fitKept(w) {
      kept.inc({ model: w.model === 'auto' ? 'auto' : w.model });
    },
    requestObserved(api, metric, code, seconds) {
      requests.observe({ api, metric, code }, seconds);
    },
  };
}
