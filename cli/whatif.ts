/**
 * `shadowscale whatif`: for each configured workload, its load history fetched from Prometheus with
 * the adapter's own query and step, replayed through the simulator under the reactive HPA (with the
 * target given), shadowscale exactly as the adapter would serve it (the workload's capacity, lag,
 * bounds, shadows and headroom; the adapter's step, refresh and observe interval), and the oracle;
 * then, in words, what it would have changed. The same simulation as `shadowscale simulate` on the
 * same series with the same settings.
 */
import { writeFileSync } from 'node:fs';

import { parseDuration } from '../core/duration.ts';
import { workloadKey, workloadTiming, type Config, type WorkloadConfig } from '../core/config.ts';
import type { SimulationSpec } from '../core/simulator/simulate.ts';
import { traceFromSeries, type Trace } from '../core/simulator/trace.ts';
import { PrometheusClient, prometheusClientFromConfig } from '../platform/prometheus.ts';
import type { SimulationReport } from '../simulation/report.ts';
import { renderReport } from '../simulation/report.ts';
import { renderTable, runSimulation, simulationSpec } from '../simulation/run.ts';
import { KubeConfig } from '@kubernetes/client-node';

import { createKubeApis, defaultKubeConfig, type KubeApis } from '../platform/kubernetes.ts';
import { loadConfigFile } from './config-file.ts';
import { readAutoscaler, type ReplayedAutoscaler } from './whatif-autoscaler.ts';
import { UsageError } from './errors.ts';

export interface WhatifCliOptions {
  config: string;
  /** Replay with the capacity per replica estimated from Prometheus instead of the configured one. */
  estimateCapacity?: boolean;
  /** false (--no-cluster): do not read the autoscalers from the cluster. */
  cluster?: boolean;
  kubeconfig?: string;
  workload?: string;
  since: string;
  prometheus?: string;
  targetUtilization: string;
  json?: boolean;
  report?: string;
}

/** The policies compared: what runs today, what shadowscale would do, and the best any policy could. */
export const WHATIF_POLICIES = ['hpa', 'shadowscale', 'oracle'];

export interface WhatifResult {
  workload: string;
  /** The capacity per replica replayed, and where it comes from. */
  capacity: { perReplica: number; source: string };
  autoscaler: ReplayedAutoscaler;
  from: number;
  to: number;
  report: SimulationReport;
  summary: string;
}

function loadKubeConfig(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

/** The simulation of one workload as the adapter would serve it: its settings, the adapter's pipeline. */
export function whatifSpec(config: Config, w: WorkloadConfig, trace: Trace, autoscaler: Pick<ReplayedAutoscaler, 'minReplicas' | 'maxReplicas' | 'targetUtilization' | 'scaleUpTolerance'>): SimulationSpec {
  const timing = workloadTiming(config, w);
  const base = simulationSpec(trace, {
    capacity: w.capacityPerReplica,
    maxReplicas: autoscaler.maxReplicas,
    warmupSeconds: 'auto',
    provisioningLagSeconds: w.provisioningLag,
    targetUtilization: autoscaler.targetUtilization,
    shadowResourceFraction: w.shadow?.resourceFraction ?? 0.5,
  });
  const observe = config.adapter.observe;
  return {
    ...base,
    minReplicas: autoscaler.minReplicas,
    shadowMinReplicas: w.shadow?.minReplicas ?? 0,
    shadowMaxReplicas: w.shadow?.maxReplicas ?? 0,
    headroomQuantile: w.headroomQuantile,
    plan: w.plan,
    planTargetUtilization: w.targetUtilization,
    ...(autoscaler.scaleUpTolerance !== undefined ? { hpaScaleUpTolerance: autoscaler.scaleUpTolerance } : {}),
    // The pre-scale with this receiver's cooldown and limit and this workload's minimum traffic.
    prescale: {
      ...base.prescale!,
      ...(config.receiver ? { cooldownSeconds: config.receiver.cooldown, prescaleMaxSeconds: config.receiver.prescaleMax } : {}),
      minRequestRate: w.slo.minRequestRate,
    },
    pipeline: {
      ...base.pipeline,
      adapter: { stepSeconds: timing.stepSeconds, refreshSeconds: timing.refreshSeconds, jitter: config.adapter.jitter, observeSeconds: observe === 'off' ? undefined : observe },
    },
  };
}

/** Load per ready replica whose quantile, at the times the SLO was met, estimates the capacity. */
export const CAPACITY_QUANTILE = 0.99;

/**
 * The PromQL of the capacity estimate over `window`: the `CAPACITY_QUANTILE` of the load each ready
 * primary replica carried (shadowscale:requests_per_ready_replica:rate1m, from the KPI rules) at the
 * minutes its p99 latency and its error ratio were within the workload's SLO. A lower bound: the most
 * a replica was seen to serve well, not the most it could.
 */
export function capacityEstimateQuery(w: Pick<WorkloadConfig, 'namespace' | 'name'>, window: string): string {
  const sel = `namespace="${w.namespace}", workload="${w.name}"`;
  return `quantile_over_time(${CAPACITY_QUANTILE}, (
  shadowscale:requests_per_ready_replica:rate1m{${sel}, role="primary"}
  and on (namespace, workload) (shadowscale:request_latency_seconds:p99_rate5m{${sel}, role="primary"} <= on (namespace, workload) shadowscale:bound:latency_p99_seconds)
  and on (namespace, workload) (shadowscale:request_errors:ratio_rate5m{${sel}, role="primary"} <= on (namespace, workload) shadowscale:bound:error_ratio)
)[${window}:1m])`;
}

/** What the figures mean, in one sentence. */
export function whatifSummary(report: SimulationReport, days: number): string {
  const hpa = report.policies.find((p) => p.policy === 'hpa')!;
  const ss = report.policies.find((p) => p.policy === 'shadowscale')!;
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  const cost = ss.replicaSeconds / hpa.replicaSeconds;
  const equal = ss.equalCostExtrapolated ? `no HPA target spends that much; the most any spends would have left ${pct(ss.hpaUnservedAtEqualCost)}` : `an HPA spending the same would have left ${pct(ss.hpaUnservedAtEqualCost)}`;
  return `on the last ${days.toFixed(days < 2 ? 1 : 0)} days scored: ${pct(ss.unservedFraction)} unserved instead of ${pct(hpa.unservedFraction)} for ${cost.toFixed(2)} × the replica-seconds; ${equal}`;
}

export async function runWhatif(options: WhatifCliOptions, out: NodeJS.WritableStream = process.stdout, now = Date.now()): Promise<WhatifResult[]> {
  const config = loadConfigFile(options.config);
  const parsedSince = parseDuration(options.since);
  if (parsedSince === undefined || parsedSince <= 0) throw new UsageError(`--since "${options.since}" is not a duration such as 14d or 36h`);
  const since: number = parsedSince;
  const target = Number(options.targetUtilization);
  if (!(target > 0 && target <= 1)) throw new UsageError(`--target-utilization must be in (0, 1], got "${options.targetUtilization}"`);
  const workloads = options.workload ? config.workloads.filter((w) => workloadKey(w.namespace, w.name) === options.workload) : config.workloads;
  if (workloads.length === 0) throw new UsageError(`--workload ${options.workload}: no such workload in ${options.config} (expected namespace/name, one of ${config.workloads.map((w) => workloadKey(w.namespace, w.name)).join(', ')})`);
  const client = options.prometheus ? new PrometheusClient({ url: options.prometheus, timeoutSeconds: config.prometheus.timeout, retries: 1 }) : prometheusClientFromConfig(config);
  const url = options.prometheus ?? config.prometheus.url;
  const progress = !options.json && process.stderr.isTTY ? (what: string) => process.stderr.write(`${what}...\n`) : undefined;
  let apis: KubeApis | undefined;
  if (options.cluster !== false) {
    let kc: KubeConfig;
    try {
      kc = options.kubeconfig ? loadKubeConfig(options.kubeconfig) : defaultKubeConfig();
    } catch (error) {
      throw new UsageError(`--kubeconfig ${options.kubeconfig}: ${(error as Error).message}`);
    }
    apis = createKubeApis(kc, { timeoutMs: 5000, retries: 0 });
  }
  try {
    return await replayAll();
  } finally {
    await apis?.http?.close();
  }

  async function replayAll(): Promise<WhatifResult[]> {
    const results: WhatifResult[] = [];
    for (const w of workloads) {
      const key = workloadKey(w.namespace, w.name);
      const { stepSeconds } = workloadTiming(config, w);
      const to = Math.floor(now / 1000 / stepSeconds) * stepSeconds;
      const from = to - since;
      progress?.(`${key}: reading ${options.since} of its load from ${url}`);
      let series;
      try {
        series = await client.queryRange(w.load, from, to, stepSeconds);
      } catch (error) {
        throw new Error(`${key}: the load query cannot be read from Prometheus at ${url}: ${(error as Error).message}`);
      }
      if (series.length !== 1) {
        throw new Error(`${key}: the load query returned ${series.length} series over the last ${options.since}; ${series.length === 0 ? 'there is no history to replay' : 'aggregate it to one (e.g. sum(...))'}`);
      }
      const trace = traceFromSeries({ timestamps: series[0].timestamps, values: series[0].values });
      let capacity = { perReplica: w.capacityPerReplica, source: 'capacityPerReplica of the configuration' };
      if (options.estimateCapacity) {
        const window = `${since}s`;
        let estimate;
        try {
          estimate = await client.query(capacityEstimateQuery(w, window), to);
        } catch (error) {
          throw new Error(`${key}: the capacity cannot be estimated from Prometheus at ${url}: ${(error as Error).message}`);
        }
        const value = estimate[0]?.value;
        if (!(value !== undefined && Number.isFinite(value) && value > 0)) {
          throw new Error(`${key}: no estimate of the capacity per replica: over the last ${options.since}, no minute with the load per ready primary replica (shadowscale:requests_per_ready_replica:rate1m) and its p99 latency and error ratio within the SLO; are the KPI rules loaded and the adapter scraped?`);
        }
        capacity = {
          perReplica: value,
          source: `estimated: the ${CAPACITY_QUANTILE} quantile of the load per ready primary replica over the last ${options.since}, at the minutes its p99 latency and error ratio were within the SLO (configured: ${w.capacityPerReplica})`,
        };
      }
      const replayed = { ...w, capacityPerReplica: capacity.perReplica };
      const read = apis ? await readAutoscaler(apis, replayed, target) : { unavailable: '--no-cluster' };
      const autoscaler: ReplayedAutoscaler = 'unavailable' in read
        ? { source: `the configuration's primary.minReplicas and maxReplicas, and --target-utilization ${target} (${read.unavailable})`, minReplicas: w.primary.minReplicas, maxReplicas: w.primary.maxReplicas, targetUtilization: target }
        : read;
      const spec = whatifSpec(config, replayed, trace, autoscaler);
      let run;
      try {
        run = await runSimulation(trace, spec, WHATIF_POLICIES, key, progress && ((what) => progress(`${key}: simulating ${what}`)));
      } catch (error) {
        if (error instanceof RangeError) throw new UsageError(`${key}: ${error.message} (ask for more with --since)`);
        throw error;
      }
      const scoredDays = (run.report.steps * spec.tickSeconds) / 86_400;
      const result = { workload: key, capacity, autoscaler, from, to, report: run.report, summary: whatifSummary(run.report, scoredDays) };
      results.push(result);
      if (options.report) {
        const file = workloads.length === 1 ? options.report : options.report.replace(/(\.html?)?$/, (ext) => `-${w.namespace}-${w.name}${ext || '.html'}`);
        writeFileSync(file, renderReport(run.report, run.results, run.frontier));
      }
      if (!options.json) out.write(`${key}: ${result.summary}\n  capacity per replica ${capacity.perReplica.toPrecision(4)}: ${capacity.source}\n  the HPA replayed: ${autoscaler.minReplicas}..${autoscaler.maxReplicas} replicas at ${autoscaler.targetUtilization} of capacityPerReplica, from ${autoscaler.source}\n${renderTable(run.report)}\n`);
    }
    if (options.json) {
      out.write(`${JSON.stringify({ since: options.since, workloads: results.map(({ report: { frontier: _f, ...report }, ...r }) => ({ ...r, report })) })}\n`);
    }
    return results;
  }
}
