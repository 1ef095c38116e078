/**
 * A simulation run: a trace replayed through the simulated cluster (core/simulator) under each policy,
 * the forecasting policies in worker threads, the reactive HPA's cost/unserved frontier, and the
 * report of it all (a table here, HTML in report.ts). `shadowscale simulate`, the demo's report and
 * the scaling benchmark all run it.
 */
import Table from 'cli-table3';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

import { checkScoredSpan, defaultSpec, hpaAtEqualCost, hpaFrontier, HpaRuns, policySetup, POLICIES, simulate, tickTimes, type EqualCost, type PolicyResult, type SimulationSpec } from '../core/simulator/simulate.ts';
import { ForecastCache, plannedFits, plannedScores, ScheduledForecaster, type PrecomputedForecasts, type Score, type StoredForecast } from '../core/simulator/forecaster.ts';
import type { ModelName } from '../core/forecast/types.ts';
import type { ForecastNeed } from '../core/simulator/policy.ts';
import { autoCapacity, type Trace } from '../core/simulator/trace.ts';
import { siblingModule } from '../platform/module-file.ts';
import type { SimulationReport } from './report.ts';
import { alertPathFromFiles } from './alert-path.ts';
import { defaultReceiverConfig } from '../core/config.ts';

/** What a run is given, in numbers; `auto` derives the value from the trace. */
export interface SimulationSettings {
  /** `auto`: about 20 replicas at the trace's 95th percentile; `{ replicasAtP95 }`: about that many. */
  capacity: number | 'auto' | { replicasAtP95: number };
  maxReplicas: number | 'auto';
  warmupSeconds: number | 'auto';
  provisioningLagSeconds: number;
  targetUtilization: number;
  shadowResourceFraction: number;
  /** The shadow's mirrorPercent (default 10, the configuration's). */
  mirrorPercent?: number;
}

export function simulationSpec(trace: Trace, s: SimulationSettings): SimulationSpec {
  const capacity = s.capacity === 'auto' ? autoCapacity(trace) : typeof s.capacity === 'object' ? autoCapacity(trace, s.capacity.replicasAtP95) : s.capacity;
  const peak = trace.values.reduce((m, v) => Math.max(m, v), 0);
  const maxReplicas = s.maxReplicas === 'auto' ? Math.max(2, Math.ceil((2 * peak) / capacity)) : s.maxReplicas;
  const span = trace.values.length * trace.stepSeconds;
  // Three days of history for the forecasts, or a fifth of a shorter trace.
  const warmup = s.warmupSeconds === 'auto' ? Math.min(3 * 86_400, Math.floor(span / 5)) : s.warmupSeconds;
  return defaultSpec({
    capacityPerReplica: capacity,
    provisioningLagSeconds: s.provisioningLagSeconds,
    targetUtilization: s.targetUtilization,
    shadowResourceFraction: s.shadowResourceFraction,
    ...(s.mirrorPercent !== undefined ? { mirrorShare: s.mirrorPercent / 100 } : {}),
    maxReplicas,
    warmupSeconds: warmup,
    prescale: shippedPrescale(),
  });
}

/**
 * The receiver's pre-scale as shipped: the alert path the rules and the example Alertmanager route
 * imply, the receiver's default cooldown and prescaleMax, and a workload's default slo.minRequestRate (1).
 */
export function shippedPrescale(): NonNullable<SimulationSpec['prescale']> {
  const receiver = defaultReceiverConfig();
  return { alertPath: alertPathFromFiles(), cooldownSeconds: receiver.cooldown, prescaleMaxSeconds: receiver.prescaleMax, minRequestRate: 1 };
}

/**
 * Policies that fit forecasts run in worker threads (seconds each); the others are milliseconds. The
 * policies of one group share a worker and their forecasts, which are computed ahead on all the threads
 * (`forecastAhead`).
 */
const FORECASTING = new Map([
  ['holt-winters', 'holt-winters'],
  ['shadowscale', 'shadowscale'],
  ['shadowscale+pool', 'shadowscale'],
  ['shadowscale+spill', 'shadowscale'],
  ['shadowscale+spill+peak-error-0.75', 'shadowscale'],
  ['shadowscale+spill+peak-error-0.5', 'shadowscale'],
  // Fits every candidate at each refit: forecasts of their own.
  ['shadowscale+spill+hindsight-choice', 'hindsight-choice'],
]);

export async function runSimulation(trace: Trace, spec: SimulationSpec, policies: string[], name: string, onProgress?: (what: string) => void): Promise<{ report: SimulationReport; results: PolicyResult[]; frontier: PolicyResult[] }> {
  checkScoredSpan(trace, spec);
  const groups = new Map<string, string[]>();
  for (const p of policies) {
    const group = FORECASTING.get(p);
    if (group) groups.set(group, [...(groups.get(group) ?? []), p]);
  }
  const worker = siblingModule(import.meta.url, 'worker');
  const pool = groups.size > 0
    ? new Piscina({ filename: worker.url.href, minThreads: 1, maxThreads: Math.max(1, availableParallelism()), execArgv: worker.execArgv })
    : undefined;
  try {
    const inWorkers = new Map<string, Promise<PolicyResult>>();
    // The group whose fits cost most is queued first (`auto` backtests every candidate), so that its
    // run, which waits for all of them, starts while the others still fit.
    const ordered = [...groups.values()].map((group) => ({ group, need: POLICIES[group[0]].forecastNeed?.(policySetup(trace, spec)) }));
    ordered.sort((a, b) => Number(b.need?.spec.model === 'auto') - Number(a.need?.spec.model === 'auto'));
    for (const { group, need } of ordered) {
      const ahead = need ? forecastAhead(pool!, trace, spec, need) : Promise.resolve(undefined);
      const done = ahead.then((pre) => pool!.run({ trace, policies: group, spec, precomputed: pre && [pre] }) as Promise<PolicyResult[]>);
      group.forEach((policy, i) => inWorkers.set(policy, done.then((results) => results[i])));
    }
    // Settled even if the run stops at another policy's error, so that no rejection goes unhandled.
    for (const p of inWorkers.values()) p.catch(() => undefined);
    onProgress?.('hpa frontier');
    const hpaRuns = new HpaRuns(trace, spec);
    const frontier = hpaFrontier(trace, spec, hpaRuns);
    // Priced against the HPA as they come: the policies of this thread while the workers run.
    const pricing = new HpaPricing(trace, spec, hpaRuns);
    const byPolicy = new Map<string, PolicyResult>();
    for (const policy of pricingOrder(policies)) {
      onProgress?.(policy);
      const r = inWorkers.has(policy) ? await inWorkers.get(policy)! : simulate(trace, POLICIES[policy], spec);
      byPolicy.set(policy, r);
      pricing.price(policy, r);
    }
    const results = policies.map((p) => byPolicy.get(p)!);
    return { report: buildReport(trace, spec, name, policies, results, frontier, pricing), results, frontier };
  } finally {
    await pool?.destroy();
  }
}

/**
 * A forecaster's backtests, then its fits, computed in shares on all the pool's threads, for a run that
 * asks at every tick less `need.askDelaySeconds`: the schedule is the forecaster's own (planned without
 * fitting, core/simulator/forecaster.ts), so the run then replays exactly what it would have fitted.
 */
async function forecastAhead(pool: Piscina, trace: Trace, spec: SimulationSpec, need: ForecastNeed): Promise<PrecomputedForecasts> {
  const asks = Array.from(tickTimes(trace, spec), (t) => t - need.askDelaySeconds);
  const shares = <T>(items: T[]): T[][] => {
    const n = Math.max(1, Math.ceil(items.length / (4 * pool.options.maxThreads)));
    return Array.from({ length: Math.ceil(items.length / n) }, (_, i) => items.slice(i * n, (i + 1) * n));
  };
  const scores = (
    await Promise.all(shares(plannedScores(trace, need.spec, asks)).map((ats) => pool.run({ trace, spec: need.spec, ats }, { name: 'scores' }) as Promise<Array<[number, Score]>>))
  ).flat();
  const fits = (
    await Promise.all(
      shares(plannedFits(trace, need.spec, asks, scores)).map(
        (requests) => pool.run({ trace, spec: need.spec, requests }, { name: 'fits' }) as Promise<Array<[number, ModelName, StoredForecast]>>,
      ),
    )
  ).flat();
  return { key: ScheduledForecaster.fitKey(trace, need.spec), scores, fits };
}

/**
 * Every policy at every spec, on one trace, in this thread: the forecasting policies fit once for all
 * specs whose fits are the same (ForecastCache: other lags and capacities), the HPA runs of each spec
 * are shared by its frontier and its equal-cost searches. For benchmarks that run traces in parallel.
 */
export function simulateTraceAt(trace: Trace, specs: SimulationSpec[], policies: string[], name: string): SimulationReport[] {
  const forecasts = new ForecastCache(trace);
  return specs.map((spec) => {
    checkScoredSpan(trace, spec);
    const results = policies.map((policy) => simulate(trace, POLICIES[policy], spec, { forecasts }));
    const hpaRuns = new HpaRuns(trace, spec);
    const frontier = hpaFrontier(trace, spec, hpaRuns);
    const pricing = new HpaPricing(trace, spec, hpaRuns);
    for (const policy of pricingOrder(policies)) pricing.price(policy, results[policies.indexOf(policy)]);
    return buildReport(trace, spec, name, policies, results, frontier, pricing);
  });
}

/**
 * The order in which a run prices its policies against the HPA: those simulated in the calling thread
 * first, then the forecasting ones as given. The searches share the HPA runs they make (one may find
 * its answer among another's), so a run is reproducible only if the order is fixed.
 */
function pricingOrder(policies: string[]): string[] {
  return [...policies.filter((p) => !FORECASTING.has(p)), ...policies.filter((p) => FORECASTING.has(p))];
}

/** Each policy's cost priced against the reactive HPA: at its spec, and with behavior.scaleUp.tolerance 0 (how much the figures hang on the HPA's tolerance). */
class HpaPricing {
  private readonly strictSpec: SimulationSpec;
  private readonly strictRuns: HpaRuns;
  /**
   * The searches at the serving set's cost in runs of their own (seeded with the frontier), so that
   * they leave the equal-cost searches, which may find their answer among earlier runs, as they were.
   */
  private readonly servingRuns: HpaRuns;
  readonly priced = new Map<string, { equal: EqualCost; strict: EqualCost; serving: EqualCost }>();

  constructor(private readonly trace: Trace, private readonly spec: SimulationSpec, private readonly hpaRuns: HpaRuns) {
    this.strictSpec = { ...spec, hpaScaleUpTolerance: 0 };
    this.strictRuns = spec.hpaScaleUpTolerance === 0 ? hpaRuns : new HpaRuns(trace, this.strictSpec);
    this.servingRuns = hpaRuns.fork();
  }

  price(policy: string, r: PolicyResult): void {
    const equal = hpaAtEqualCost(this.trace, this.spec, r.replicaSeconds, this.hpaRuns);
    this.priced.set(policy, {
      equal,
      strict: hpaAtEqualCost(this.trace, this.strictSpec, r.replicaSeconds, this.strictRuns),
      // Without shadows the serving set is the whole cost.
      serving: r.shadowReplicaSeconds > 0 ? hpaAtEqualCost(this.trace, this.spec, r.replicaSeconds - r.shadowReplicaSeconds, this.servingRuns) : equal,
    });
  }
}

function buildReport(trace: Trace, spec: SimulationSpec, name: string, policies: string[], results: PolicyResult[], frontier: PolicyResult[], pricing: HpaPricing): SimulationReport {
  return {
    trace: name,
    steps: Math.ceil((trace.values.length * trace.stepSeconds - spec.warmupSeconds) / spec.tickSeconds),
    capacityPerReplica: spec.capacityPerReplica,
    provisioningLagSeconds: spec.provisioningLagSeconds,
    targetUtilization: spec.targetUtilization,
    policies: results.map((r, i) => {
      const { equal, strict, serving } = pricing.priced.get(policies[i])!;
      return {
        policy: r.policy,
        unservedFraction: r.unservedFraction,
        violationSeconds: r.violationSeconds,
        replicaSeconds: r.replicaSeconds,
        shadowReplicaSeconds: r.shadowReplicaSeconds,
        peakReplicas: r.peakReplicas,
        scaleActions: r.scaleActions,
        hpaUnservedAtEqualCost: equal.value,
        hpaTargetAtEqualCost: equal.targetUtilization,
        equalCostExtrapolated: equal.extrapolated,
        hpaStrictUnservedAtEqualCost: strict.value,
        hpaUnservedAtServingCost: serving.value,
        poolReturns: r.poolReturns,
        spillSeconds: r.spillSeconds,
        scoredTicks: r.scoredTicks,
        skippedTicks: r.skippedTicks,
        ...(r.stats.peakErrorTicks ? { peakError: { forecastMae: r.stats.forecastPeakMae, observedMae: r.stats.observedPeakMae, observedShortfall: r.stats.observedPeakShortfall, planShortfall: r.stats.planPeakShortfall, ticks: r.stats.peakErrorTicks } } : {}),
      };
    }),
    frontier: frontier.map((f) => ({ targetUtilization: f.targetUtilization, replicaSeconds: f.replicaSeconds, unservedFraction: f.unservedFraction })),
  };
}

export function renderTable(report: SimulationReport): string {
  const table = new Table({
    style: { head: [], border: [] },
    head: ['policy', 'unserved', 'violation', 'replica-s', 'of which shadow', 'peak', 'actions', 'pool returns', 'hpa at equal cost'],
  });
  const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
  for (const p of report.policies) {
    table.push([
      p.policy,
      pct(p.unservedFraction),
      `${(p.violationSeconds / 60).toFixed(0)} min`,
      p.replicaSeconds.toExponential(3),
      p.shadowReplicaSeconds.toExponential(3),
      p.peakReplicas,
      p.scaleActions,
      p.poolReturns,
      p.equalCostExtrapolated ? `${pct(p.hpaUnservedAtEqualCost)} (no hpa target spends this: nearest end)` : `${pct(p.hpaUnservedAtEqualCost)} (target ${p.hpaTargetAtEqualCost.toFixed(3)})`,
    ]);
  }
  return [
    `${report.trace}: ${report.steps} ticks of 15 s${report.policies[0]?.skippedTicks ? ` (${report.policies[0].skippedTicks} on filled gaps, not scored)` : ''}; capacity ${report.capacityPerReplica.toPrecision(4)} per replica; lag ${report.provisioningLagSeconds} s; target utilisation ${report.targetUtilization}`,
    table.toString(),
    '',
  ].join('\n');
}

