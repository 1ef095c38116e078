/**
 * `npm run bench:tune`: chooses the headroom the plan keeps by default, the workloads'
 * `targetUtilization` of the level plan, on one half of the shared traces and reports it on the other
 * half, then the other way round, so that no figure comes from the traces its setting was chosen on.
 *
 * Every trace runs shadowscale as it runs by default (the level plan, the pre-scale, spill-over on)
 * through the simulator at each utilisation of the grid (the forecasts are
 * fitted once per trace and replayed: core/simulator/forecaster.ts ForecastRecording), with the
 * reactive HPA at equal cost found by bisection for each. The halves are fixed: the traces of
 * bench/traces.ts at even positions (A) and at odd ones (B). The rule that chooses (`choose`): no
 * trace with more unserved than the HPA at its defaults, then a median cost at most 1.5 × the
 * oracle's (the project's cost bound), then the lowest median ratio of unserved load to the HPA's at
 * equal cost. A benchmark: it reports.
 *
 * Options: --lag 120s, --only SUBSTRING (one trace, for a look; no halves then)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';

import { loadTrace } from '../cli/simulate.ts';
import { parseDuration } from '../core/duration.ts';
import { median, ratioToHpa } from './ratio.ts';
import { ForecastCache } from '../core/simulator/forecaster.ts';
import { hpaAtEqualCost, HpaRuns, POLICIES, simulate } from '../core/simulator/simulate.ts';
import { simulationSpec } from '../simulation/run.ts';
import { arg } from './args.ts';
import { LOAD_SERIES, ZERO_IS_MISSING } from './traces.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(ROOT, '..', 'shared', 'data');
const GRID = [0.65, 0.7, 0.75, 0.8, 0.85, 0.9];
/** The default the table's cost column is read at. */
const DEFAULT = 0.8;
const COST_BOUND = 1.5;

interface AtQuantile {
  q: number;
  unserved: number;
  hpaAtEqualCost: number;
  extrapolated: boolean;
  replicaSeconds: number;
}
interface TraceRun {
  trace: string;
  hpa: { unserved: number; replicaSeconds: number };
  oracleReplicaSeconds: number;
  grid: AtQuantile[];
  seconds: number;
}

/** One trace through the grid, in this process (the parent runs two of these at a time). */
function runTrace(path: string, lagSeconds: number): TraceRun {
  const started = performance.now();
  const trace = loadTrace(join(DATA, path), { zeroIsMissing: ZERO_IS_MISSING.has(path) });
  const spec = simulationSpec(trace, { capacity: 'auto', maxReplicas: 'auto', warmupSeconds: 'auto', provisioningLagSeconds: lagSeconds, targetUtilization: 0.8, shadowResourceFraction: 0.5 });
  const hpa = simulate(trace, POLICIES.hpa, spec);
  const oracle = simulate(trace, POLICIES.oracle, spec);
  const forecasts = new ForecastCache(trace);
  // The HPA runs of the bisections, priced once for the whole grid.
  const hpaRuns = new HpaRuns(trace, spec);
  const grid = GRID.map((q) => {
    const r = simulate(trace, POLICIES['shadowscale+spill'], { ...spec, planTargetUtilization: q }, { forecasts });
    const equal = hpaAtEqualCost(trace, spec, r.replicaSeconds, hpaRuns);
    return { q, unserved: r.unservedFraction, hpaAtEqualCost: equal.value, extrapolated: equal.extrapolated, replicaSeconds: r.replicaSeconds };
  });
  return { trace: path, hpa: { unserved: hpa.unservedFraction, replicaSeconds: hpa.replicaSeconds }, oracleReplicaSeconds: oracle.replicaSeconds, grid, seconds: (performance.now() - started) / 1000 };
}

function runChild(path: string, lag: string): Promise<TraceRun | { trace: string; error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--one', path, '--lag', lag], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('exit', (code) => resolve(code === 0 ? JSON.parse(out) : { trace: path, error: err.trim().split('\n').pop() ?? `exit ${code}` }));
  });
}

const ratio = (g: AtQuantile) => ratioToHpa(g.unserved, g.hpaAtEqualCost);
const at = (r: TraceRun, q: number) => r.grid.find((g) => g.q === q)!;

/** The figures of one quantile over some traces. */
function figures(runs: TraceRun[], q: number) {
  return {
    q,
    medianRatio: median(runs.map((r) => ratio(at(r, q)))),
    above110: runs.filter((r) => ratio(at(r, q)) > 1.1).map((r) => name(r.trace)),
    worseThanHpa: runs.filter((r) => at(r, q).unserved > r.hpa.unserved).map((r) => name(r.trace)),
    costVsOracle: median(runs.map((r) => at(r, q).replicaSeconds / r.oracleReplicaSeconds)),
    costVsHpa: median(runs.map((r) => at(r, q).replicaSeconds / r.hpa.replicaSeconds)),
  };
}

/**
 * The project's targets in their order: no trace with more unserved than the HPA at its defaults, then
 * the cost bound, then the lowest median ratio. Among the targets that keep the first, those within
 * the cost bound and of them the lowest median ratio; if none is within it, the cheapest; if no target
 * keeps the first, the one that breaks it on the fewest traces.
 */
function choose(runs: TraceRun[]): number {
  const all = GRID.map((q) => figures(runs, q));
  const fewest = Math.min(...all.map((f) => f.worseThanHpa.length));
  const safe = all.filter((f) => f.worseThanHpa.length === fewest);
  const within = safe.filter((f) => f.costVsOracle <= COST_BOUND);
  if (within.length === 0) return safe.reduce((a, b) => (b.costVsOracle < a.costVsOracle ? b : a)).q;
  return within.reduce((a, b) => (b.medianRatio < a.medianRatio ? b : a)).q;
}

const name = (path: string) => path.split('/').pop()!.replace('.csv', '');

async function main(): Promise<void> {
  const lag = arg('--lag', '120s');
  const lagSeconds = parseDuration(lag);
  if (lagSeconds === undefined) throw new Error(`--lag ${lag} is not a duration`);
  const one = arg('--one', '');
  if (one) {
    process.stdout.write(JSON.stringify(runTrace(one, lagSeconds)));
    return;
  }
  if (!existsSync(DATA)) throw new Error(`no data at ${DATA}`);
  const only = arg('--only', '');
  const paths = LOAD_SERIES.filter((t) => t.includes(only));
  const queue = [...paths];
  const runs: TraceRun[] = [];
  let done = 0;
  await Promise.all(
    [0, 1].map(async () => {
      for (let path = queue.shift(); path; path = queue.shift()) {
        const r = await runChild(path, lag);
        done++;
        if ('error' in r) {
          process.stderr.write(`[${done}/${paths.length}] ${name(path)}: error: ${r.error}\n`);
          continue;
        }
        runs.push(r);
        process.stderr.write(`[${done}/${paths.length}] ${name(path)} in ${r.seconds.toFixed(0)} s: ${r.grid.map((g) => `u${g.q} ${ratio(g).toFixed(2)}`).join(', ')}\n`);
      }
    }),
  );
  runs.sort((a, b) => paths.indexOf(a.trace) - paths.indexOf(b.trace));

  const lines: string[] = [];
  const say = (s = '') => {
    lines.push(s);
    console.log(s);
  };
  say(`targetUtilization of the level plan at provisioning lag ${lag}: shadowscale+spill's unserved ÷ the hpa's at equal cost, per trace and target (* equal cost beyond the hpa's targets)`);
  const table = new Table({ style: { head: [], border: [] }, head: ['trace', 'half', ...GRID.map((q) => `u ${q}`), `cost ÷ oracle at ${DEFAULT}`] });
  for (const r of runs) {
    const half = LOAD_SERIES.indexOf(r.trace) % 2 === 0 ? 'A' : 'B';
    table.push([name(r.trace), half, ...GRID.map((q) => `${ratio(at(r, q)).toFixed(3)}${at(r, q).extrapolated ? ' *' : ''}`), (at(r, DEFAULT).replicaSeconds / r.oracleReplicaSeconds).toFixed(2)]);
  }
  say(table.toString());
  const summary = new Table({ style: { head: [], border: [] }, head: ['over', 'targetUtilization', 'median ratio', 'traces > 1.10', 'more unserved than hpa at defaults', 'cost ÷ oracle (median)', 'cost ÷ hpa (median)'] });
  for (const q of GRID) {
    const f = figures(runs, q);
    summary.push([`all ${runs.length}`, q, f.medianRatio.toFixed(3), f.above110.length, f.worseThanHpa.length, f.costVsOracle.toFixed(2), f.costVsHpa.toFixed(2)]);
  }
  say(summary.toString());

  const result: Record<string, unknown> = { generatedAt: new Date().toISOString(), lag, grid: GRID, costBound: COST_BOUND, runs };
  if (!only) {
    const halves = { A: runs.filter((r) => LOAD_SERIES.indexOf(r.trace) % 2 === 0), B: runs.filter((r) => LOAD_SERIES.indexOf(r.trace) % 2 === 1) };
    const held: Record<string, unknown> = {};
    for (const [chosenOn, reportedOn] of [['A', 'B'], ['B', 'A']] as const) {
      const q = choose(halves[chosenOn]);
      const f = figures(halves[reportedOn], q);
      held[`chosenOn${chosenOn}`] = f;
      say(`chosen on half ${chosenOn} (${halves[chosenOn].length} traces): targetUtilization ${q}; on half ${reportedOn} (${halves[reportedOn].length} traces, not seen): median ratio ${f.medianRatio.toFixed(3)}, above 1.10: ${f.above110.length} (${f.above110.join(', ') || 'none'}), more unserved than hpa at defaults: ${f.worseThanHpa.length}, cost ${f.costVsOracle.toFixed(2)} × the oracle's`);
    }
    result.heldOut = held;
  }
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tune-headroom.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(dir, 'tune-headroom.txt'), `${lines.join('\n')}\n`);
  console.log('wrote bench/results/tune-headroom.json and tune-headroom.txt');
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
