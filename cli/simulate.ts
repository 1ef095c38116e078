/**
 * `shadowscale simulate`: the command line's options read into a simulation (simulation/run.ts), and
 * its table, JSON or HTML report written out.
 */
import { readFileSync, writeFileSync } from 'node:fs';

import { parseDuration } from '../core/duration.ts';
import { parseSeriesCsv } from '../core/series/csv.ts';
import { POLICIES, type SimulationSpec } from '../core/simulator/simulate.ts';
import { traceFromSeries, type Trace } from '../core/simulator/trace.ts';
import { renderReport } from '../simulation/report.ts';
import { renderTable, runSimulation, simulationSpec, type SimulationSettings } from '../simulation/run.ts';
import { UsageError } from './errors.ts';

export interface SimulateCliOptions {
  trace: string;
  policies: string;
  provisioningLag: string;
  capacity: string;
  targetUtilization: string;
  shadowResourceFraction: string;
  mirrorPercent?: string;
  warmup: string;
  compress: string;
  minReplicas?: string;
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

/** `--capacity`: a number, `auto`, or `auto:R` (about R replicas at the trace's 95th percentile). */
function capacityOption(text: string): SimulationSettings['capacity'] {
  if (text === 'auto') return 'auto';
  const m = /^auto:(\d+)$/.exec(text);
  if (m && Number(m[1]) >= 1) return { replicasAtP95: Number(m[1]) };
  return number(text, '--capacity', (x) => x > 0, 'a positive number, auto or auto:R (R replicas at the p95 load)');
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
  const minReplicas = number(options.minReplicas ?? '1', '--min-replicas', (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
  const spec = simulationSpec(trace, {
    capacity: capacityOption(options.capacity),
    maxReplicas: options.maxReplicas === 'auto' ? 'auto' : number(options.maxReplicas, '--max-replicas', (x) => Number.isInteger(x) && x >= 1, 'a positive integer or auto'),
    warmupSeconds: options.warmup === 'auto' ? 'auto' : seconds(options.warmup, '--warmup'),
    provisioningLagSeconds: seconds(options.provisioningLag, '--provisioning-lag'),
    targetUtilization: number(options.targetUtilization, '--target-utilization', (x) => x > 0 && x <= 1, 'in (0, 1]'),
    shadowResourceFraction: number(options.shadowResourceFraction, '--shadow-resource-fraction', (x) => x > 0 && x <= 1, 'in (0, 1]'),
    mirrorPercent: number(options.mirrorPercent ?? '10', '--mirror-percent', (x) => x >= 0 && x <= 100, 'in [0, 100]'),
  });
  if (minReplicas > spec.maxReplicas) throw new UsageError(`--min-replicas ${minReplicas} is above --max-replicas ${spec.maxReplicas}`);
  return { ...spec, minReplicas };
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
    process.stdout.write(`${JSON.stringify(rest)}\n`);
  } else {
    process.stdout.write(renderTable(report));
  }
}
