/**
 * `shadowscale simulate`: replays a real load trace through the simulated cluster under each policy
 * and compares them, also at equal cost against reactive HPA's cost/unserved frontier.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Piscina } from 'piscina';
import Table from 'cli-table3';

import { parseDuration } from '../core/duration.ts';
import { siblingModule } from '../platform/module-file.ts';
import { parseSeriesCsv } from '../core/series/csv.ts';
import { checkScoredSpan, defaultSpec, hpaFrontier, POLICIES, simulate, unservedAtEqualCost, type PolicyResult, type SimulationSpec } from '../core/simulator/simulate.ts';
import { autoCapacity, traceFromSeries, type Trace } from '../core/simulator/trace.ts';
import { UsageError } from './errors.ts';
import { renderReport, type SimulationReport } from './simulate-report.ts';

export interface SimulateCliOptions {
  trace: string;
  policies: string;
  provisioningLag: string;
  capacity: string;
  targetUtilization: string;
  shadowResourceFraction: string;
  resizeDelay: string;
  warmup: string;
  compress: string;
  maxReplicas: string;
  zeroAsMissing?: boolean;
  json?: boolean;
  report?: string;
}


function number(text: string, flag: string, check: (x: number) => boolean, expected: string): number {
  const x = Number(text);
  if (!Number.isFinite(x) || !check(x)) throw new UsageError(`${flag} must be ${expected}, got "${text}"`);
  return x;
}

function seconds(text: string, flag: string): number {
  const s = parseDuration(text);
  if (s === undefined) throw new UsageError(`${flag} "${text}" is not a duration such as 120s, 2m or 3d`);
  return s;
}

export function loadTrace(file: string, options: { compress?: number; zeroIsMissing?: boolean } = {}): Trace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--trace ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return traceFromSeries(parseSeriesCsv(text, file), options);
}

export function specFromOptions(trace: Trace, options: SimulateCliOptions): SimulationSpec {
  const capacity = options.capacity === 'auto' ? autoCapacity(trace) : number(options.capacity, '--capacity', (x) => x > 0, 'a positive number or auto');
  const peak = trace.values.reduce((m, v) => Math.max(m, v), 0);
  const maxReplicas = options.maxReplicas === 'auto' ? Math.max(2, Math.ceil((2 * peak) / capacity)) : number(options.maxReplicas, '--max-replicas', (x) => Number.isInteger(x) && x >= 1, 'a positive integer or auto');
  const span = trace.values.length * trace.stepSeconds;
  // Three days of history for the forecasts, or a fifth of a shorter trace.
  const warmup = options.warmup === 'auto' ? Math.min(3 * 86_400, Math.floor(span / 5)) : seconds(options.warmup, '--warmup');
  return defaultSpec({
    capacityPerReplica: capacity,
    provisioningLagSeconds: seconds(options.provisioningLag, '--provisioning-lag'),
    targetUtilization: number(options.targetUtilization, '--target-utilization', (x) => x > 0 && x <= 1, 'in (0, 1]'),
    shadowResourceFraction: number(options.shadowResourceFraction, '--shadow-resource-fraction', (x) => x > 0 && x <= 1, 'in (0, 1]'),
    resizeDelaySeconds: seconds(options.resizeDelay, '--resize-delay'),
    maxReplicas,
    warmupSeconds: warmup,
  });
}

/** Policies that fit forecasts run in worker threads (seconds each); the others are milliseconds. */
const FORECASTING = new Set(['holt-winters', 'shadowscale', 'shadowscale+pool']);

export async function runSimulation(trace: Trace, spec: SimulationSpec, policies: string[], name: string, onProgress?: (what: string) => void): Promise<{ report: SimulationReport; results: PolicyResult[]; frontier: PolicyResult[] }> {
  checkScoredSpan(trace, spec);
  const forecasting = policies.filter((p) => FORECASTING.has(p));
  const worker = siblingModule(import.meta.url, 'simulate-worker');
  const pool = forecasting.length > 0
    ? new Piscina({ filename: worker.url.href, maxThreads: Math.min(2, forecasting.length), execArgv: worker.execArgv })
    : undefined;
  try {
    const inWorkers = new Map(forecasting.map((policy) => [policy, pool!.run({ trace, policy, spec }) as Promise<PolicyResult>]));
    onProgress?.('hpa frontier');
    const frontier = hpaFrontier(trace, spec);
    const results: PolicyResult[] = [];
    for (const policy of policies) {
      onProgress?.(policy);
      results.push(inWorkers.has(policy) ? await inWorkers.get(policy)! : simulate(trace, POLICIES[policy], spec));
    }
    return { report: buildReport(trace, spec, name, results, frontier), results, frontier };
  } finally {
    await pool?.destroy();
  }
}

function buildReport(trace: Trace, spec: SimulationSpec, name: string, results: PolicyResult[], frontier: PolicyResult[]): SimulationReport {
  return {
    trace: name,
    steps: Math.ceil((trace.values.length * trace.stepSeconds - spec.warmupSeconds) / spec.tickSeconds),
    capacityPerReplica: spec.capacityPerReplica,
    provisioningLagSeconds: spec.provisioningLagSeconds,
    targetUtilization: spec.targetUtilization,
    policies: results.map((r) => {
      const equal = unservedAtEqualCost(frontier, r.replicaSeconds);
      return {
        policy: r.policy,
        unservedFraction: r.unservedFraction,
        violationSeconds: r.violationSeconds,
        replicaSeconds: r.replicaSeconds,
        shadowReplicaSeconds: r.shadowReplicaSeconds,
        peakReplicas: r.peakReplicas,
        scaleActions: r.scaleActions,
        hpaUnservedAtEqualCost: equal.value,
        equalCostExtrapolated: equal.extrapolated,
        promotions: r.promotions,
      };
    }),
    frontier: frontier.map((f) => ({ targetUtilization: f.targetUtilization, replicaSeconds: f.replicaSeconds, unservedFraction: f.unservedFraction })),
  };
}

export function renderTable(report: SimulationReport): string {
  const table = new Table({
    style: { head: [], border: [] },
    head: ['policy', 'unserved', 'violation', 'replica-s', 'of which shadow', 'peak', 'actions', 'promoted', 'hpa at equal cost'],
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
      p.promotions,
      `${pct(p.hpaUnservedAtEqualCost)}${p.equalCostExtrapolated ? ' (beyond frontier)' : ''}`,
    ]);
  }
  return [
    `${report.trace}: ${report.steps} ticks of 15 s; capacity ${report.capacityPerReplica.toPrecision(4)} per replica; lag ${report.provisioningLagSeconds} s; target utilisation ${report.targetUtilization}`,
    table.toString(),
    '',
  ].join('\n');
}

/** What `shadowscale simulate` does with its options (cli/simulate-command.ts defines them). */
export async function runSimulateCli(options: SimulateCliOptions): Promise<void> {
  const policies = options.policies.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of policies) {
    if (!POLICIES[p]) throw new UsageError(`--policies: unknown policy "${p}"; expected some of ${Object.keys(POLICIES).join(', ')}`);
  }
  const compress = number(options.compress, '--compress', (x) => x > 0, 'a positive number');
  const trace = loadTrace(options.trace, { compress, zeroIsMissing: options.zeroAsMissing });
  const spec = specFromOptions(trace, options);
  const progress = !options.json && process.stderr.isTTY ? (what: string) => process.stderr.write(`simulating ${what}...\n`) : undefined;
  let run;
  try {
    run = await runSimulation(trace, spec, policies, options.trace, progress);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(`--trace ${options.trace}: ${error.message}`);
    throw error;
  }
  const { report, results, frontier } = run;
  if (options.report) writeFileSync(options.report, renderReport(report, results, frontier));
  if (options.json) {
    const { frontier: _frontier, ...rest } = report;
    process.stdout.write(`${JSON.stringify({ ...rest, policies: report.policies.map(({ equalCostExtrapolated: _e, promotions: _p, ...p }) => p) })}\n`);
  } else {
    process.stdout.write(renderTable(report));
  }
}
