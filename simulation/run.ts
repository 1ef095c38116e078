/**
 * A simulation run: a trace replayed through the simulated cluster (core/simulator) under each policy,
 * the forecasting policies in worker threads, the reactive HPA's cost/unserved frontier, and the
 * report of it all (a table here, HTML in report.ts). `shadowscale simulate`, the demo's report and
 * the scaling benchmark all run it.
 */
import Table from 'cli-table3';
import { Piscina } from 'piscina';

import { checkScoredSpan, defaultSpec, hpaAtEqualCost, hpaFrontier, HpaRuns, POLICIES, simulate, type PolicyResult, type SimulationSpec } from '../core/simulator/simulate.ts';
import { ForecastCache } from '../core/simulator/forecaster.ts';
import { autoCapacity, type Trace } from '../core/simulator/trace.ts';
import { siblingModule } from '../platform/module-file.ts';
import type { SimulationReport } from './report.ts';

/** What a run is given, in numbers; `auto` derives the value from the trace. */
export interface SimulationSettings {
  /** `auto`: about 20 replicas at the trace's 95th percentile; `{ replicasAtP95 }`: about that many. */
  capacity: number | 'auto' | { replicasAtP95: number };
  maxReplicas: number | 'auto';
  warmupSeconds: number | 'auto';
  provisioningLagSeconds: number;
  targetUtilization: number;
  shadowResourceFraction: number;
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
    maxReplicas,
    warmupSeconds: warmup,
  });
}

/**
 * Policies that fit forecasts run in worker threads (seconds each); the others are milliseconds. The
 * policies of one group share a worker and their forecasts.
 */
const FORECASTING = new Map([
  ['holt-winters', 'holt-winters'],
  ['shadowscale', 'shadowscale'],
  ['shadowscale+pool', 'shadowscale'],
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
    ? new Piscina({ filename: worker.url.href, maxThreads: Math.min(2, groups.size), execArgv: worker.execArgv })
    : undefined;
  try {
    const inWorkers = new Map<string, Promise<PolicyResult>>();
    for (const group of groups.values()) {
      const done = pool!.run({ trace, policies: group, spec }) as Promise<PolicyResult[]>;
      group.forEach((policy, i) => inWorkers.set(policy, done.then((results) => results[i])));
    }
    onProgress?.('hpa frontier');
    const hpaRuns = new HpaRuns(trace, spec);
    const frontier = hpaFrontier(trace, spec, hpaRuns);
    const results: PolicyResult[] = [];
    for (const policy of policies) {
      onProgress?.(policy);
      results.push(inWorkers.has(policy) ? await inWorkers.get(policy)! : simulate(trace, POLICIES[policy], spec));
    }
    onProgress?.('hpa at equal cost');
    return { report: buildReport(trace, spec, name, results, frontier, hpaRuns), results, frontier };
  } finally {
    await pool?.destroy();
  }
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
    return buildReport(trace, spec, name, results, hpaFrontier(trace, spec, hpaRuns), hpaRuns);
  });
}

function buildReport(trace: Trace, spec: SimulationSpec, name: string, results: PolicyResult[], frontier: PolicyResult[], hpaRuns: HpaRuns): SimulationReport {
  const strictSpec = { ...spec, hpaScaleUpTolerance: 0 };
  const strictRuns = spec.hpaScaleUpTolerance === 0 ? hpaRuns : new HpaRuns(trace, strictSpec);
  return {
    trace: name,
    steps: Math.ceil((trace.values.length * trace.stepSeconds - spec.warmupSeconds) / spec.tickSeconds),
    capacityPerReplica: spec.capacityPerReplica,
    provisioningLagSeconds: spec.provisioningLagSeconds,
    targetUtilization: spec.targetUtilization,
    policies: results.map((r) => {
      const equal = hpaAtEqualCost(trace, spec, r.replicaSeconds, hpaRuns);
      // The same against a reactive HPA that also sets behavior.scaleUp.tolerance to 0, as shadowscale's does.
      const strict = hpaAtEqualCost(trace, strictSpec, r.replicaSeconds, strictRuns);
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
        poolReturns: r.poolReturns,
        scoredTicks: r.scoredTicks,
        skippedTicks: r.skippedTicks,
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

