/**
 * `npm run bench:perfect-forecast`: how much of shadowscale's distance from the oracle is its forecast.
 * Every trace of bench:scaling, at the same settings, through `shadowscale+perfect-forecast`: the
 * product's plan, pipeline and HPA fed the true load of the next provisioning lag where the product
 * has its forecast (core/simulator/policies/shadowscale.ts). Printed next to shadowscale+spill's figures
 * from the last bench:scaling run (bench/results/scaling.json), when it holds the same setting. A bound
 * for reading, not a result: no forecast is perfect. A benchmark: it reports, it does not assert.
 *
 * Between the product and that bound, at `--bound-lags` (120 s unless told): shadowscale+spill with its
 * forecast's peak error over the lag scaled by 0.75 and by 0.5 at every tick, and with its candidates
 * chosen at each refit in hindsight, for the smallest peak error until the next refit (policies/
 * shadowscale.ts): how much better the forecast must be for a given gain, and how much of that a better
 * choice among the candidates could give. Bounds too: each reads the future.
 *
 * Options: --only SUBSTRING, --lags 60s,120s,300s, --capacities auto (auto or auto:R; comma-separated),
 * --bound-lags 120s (empty: none)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { Piscina } from 'piscina';
import { LOAD_SERIES, ZERO_IS_MISSING } from './traces.ts';
import type { SimulationReport } from '../simulation/report.ts';
import { arg } from './args.ts';
import { median, ratioToHpa } from './ratio.ts';
import { settingsOf } from './settings.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(ROOT, '..', 'shared', 'data');
const RESULTS = join(ROOT, 'bench', 'results');
const POLICIES = ['hpa', 'shadowscale+perfect-forecast', 'oracle'];
const PRODUCT = 'shadowscale+spill';
const BOUNDS = ['shadowscale+spill+peak-error-0.75', 'shadowscale+spill+peak-error-0.5', 'shadowscale+spill+hindsight-choice'];

type Row = { trace: string; half: 'A' | 'B'; ratio: number; costToOracle: number; product?: number };

/** shadowscale+spill's ratio per trace in the last bench:scaling run, at a setting. */
function spillRatios(lag: string, capacity: string): Map<string, number> {
  const out = new Map<string, number>();
  const file = join(RESULTS, 'scaling.json');
  if (!existsSync(file)) return out;
  const runs = (JSON.parse(readFileSync(file, 'utf8')) as { runs: Array<{ trace: string; lag: string; capacity: string; report?: SimulationReport }> }).runs;
  for (const run of runs) {
    if (run.lag !== lag || run.capacity !== capacity || !run.report) continue;
    const p = run.report.policies.find((x) => x.policy === 'shadowscale+spill');
    if (p) out.set(run.trace, ratioToHpa(p.unservedFraction, p.hpaUnservedAtEqualCost));
  }
  return out;
}

async function main(): Promise<void> {
  if (!existsSync(DATA)) throw new Error(`no data at ${DATA}`);
  const only = arg('--only', '');
  const settings = arg('--lags', '60s,120s,300s').split(',').flatMap((lag) => arg('--capacities', 'auto').split(',').map((capacity) => ({ lag, capacity })));
  const specs = settings.map((s) => settingsOf(s.lag, s.capacity));
  const traces = LOAD_SERIES.filter((t) => t.includes(only));
  const worker = new URL(`../simulation/worker.ts`, import.meta.url);
  const pool = new Piscina({ filename: worker.href, name: 'trace', maxThreads: 2, minThreads: 2, execArgv: process.execArgv });
  const started = performance.now();
  const boundLags = arg('--bound-lags', '120s').split(',').filter(Boolean);
  const boundSpecs = boundLags.map((lag) => settingsOf(lag, 'auto'));
  const run = (trace: string, settings: typeof specs, policies: string[]) =>
    pool.run({ file: join(DATA, trace), name: trace, zeroIsMissing: ZERO_IS_MISSING.has(trace), settings, policies }) as Promise<{ reports: SimulationReport[] }>;
  const [reports, boundReports] = await Promise.all([
    Promise.all(traces.map((trace) => run(trace, specs, POLICIES))),
    Promise.all(boundSpecs.length > 0 ? traces.map((trace) => run(trace, boundSpecs, ['hpa', PRODUCT, ...BOUNDS, 'oracle'])) : []),
  ]);
  await pool.destroy();
  const summary: Record<string, unknown> = {};
  settings.forEach((setting, i) => {
    const product = spillRatios(setting.lag, setting.capacity);
    const rows: Row[] = traces.map((trace, k) => {
      const report = reports[k].reports[i];
      const p = report.policies.find((x) => x.policy === 'shadowscale+perfect-forecast')!;
      const oracle = report.policies.find((x) => x.policy === 'oracle')!;
      return {
        trace,
        half: LOAD_SERIES.indexOf(trace) % 2 === 0 ? 'A' : 'B',
        ratio: ratioToHpa(p.unservedFraction, p.hpaUnservedAtEqualCost),
        costToOracle: p.replicaSeconds / oracle.replicaSeconds,
        product: product.get(trace),
      };
    });
    const table = new Table({ style: { head: [], border: [] }, head: ['trace', 'half', 'perfect forecast ÷ hpa at equal cost', 'replica-s ÷ oracle', 'shadowscale+spill ÷ hpa (last bench:scaling)'] });
    for (const r of rows) table.push([r.trace.split('/').pop()!, r.half, r.ratio.toFixed(3), r.costToOracle.toFixed(2), r.product === undefined ? '' : r.product.toFixed(3)]);
    const m = (rs: Row[], f: (r: Row) => number | undefined) => median(rs.map(f).filter((x): x is number => x !== undefined));
    const name = setting.capacity === 'auto' ? setting.lag : `${setting.lag} capacity ${setting.capacity}`;
    const s = {
      ratioToHpa: m(rows, (r) => r.ratio),
      ratioToHpaA: m(rows.filter((r) => r.half === 'A'), (r) => r.ratio),
      ratioToHpaB: m(rows.filter((r) => r.half === 'B'), (r) => r.ratio),
      costToOracle: m(rows, (r) => r.costToOracle),
      tracesAbove1_10: rows.filter((r) => r.ratio > 1.1).map((r) => r.trace),
      ...(product.size > 0 ? { spillRatioToHpaLastRun: m(rows, (r) => r.product) } : {}),
    };
    summary[name] = { ...s, perTrace: rows };
    console.log(`${name}:\n${table.toString()}`);
    console.log(
      `${name}: shadowscale with a perfect forecast, median over traces of unserved ÷ hpa at equal cost ${s.ratioToHpa.toFixed(3)} (A ${s.ratioToHpaA.toFixed(3)}, B ${s.ratioToHpaB.toFixed(3)}), ` +
        `${s.tracesAbove1_10.length} above 1.10, replica-seconds ÷ oracle's ${s.costToOracle.toFixed(2)}` +
        (s.spillRatioToHpaLastRun !== undefined ? `; shadowscale+spill with its own forecasts (last bench:scaling): ${s.spillRatioToHpaLastRun.toFixed(3)}` : ''),
    );
  });
  const bounds: Record<string, unknown> = {};
  boundLags.forEach((lag, i) => {
    const rows = traces.map((trace, k) => {
      const report = boundReports[k].reports[i];
      const of = (policy: string) => report.policies.find((x) => x.policy === policy)!;
      const oracle = of('oracle');
      const product = of(PRODUCT);
      return {
        trace,
        half: LOAD_SERIES.indexOf(trace) % 2 === 0 ? 'A' : 'B',
        policies: Object.fromEntries(
          [PRODUCT, ...BOUNDS].map((policy) => {
            const p = of(policy);
            return [
              policy,
              {
                ratio: ratioToHpa(p.unservedFraction, p.hpaUnservedAtEqualCost),
                costToOracle: p.replicaSeconds / oracle.replicaSeconds,
                // The forecast's peak error ÷ the product's, and the share of the rises above the load observed that the plan covered.
                peakErrorToProduct: p.peakError && product.peakError && product.peakError.forecastMae > 0 ? p.peakError.forecastMae / product.peakError.forecastMae : NaN,
                risesForeseen: p.peakError && p.peakError.observedShortfall > 0 ? 1 - p.peakError.planShortfall / p.peakError.observedShortfall : NaN,
              },
            ];
          }),
        ) as Record<string, { ratio: number; costToOracle: number; peakErrorToProduct: number; risesForeseen: number }>,
      };
    });
    const table = new Table({ style: { head: [], border: [] }, head: ['trace', 'half', 'product ÷ hpa', 'peak error × 0.75', 'peak error × 0.5', 'hindsight choice', 'its peak error ÷ product\'s'] });
    for (const r of rows) {
      const p = r.policies;
      table.push([r.trace.split('/').pop()!, r.half, ...[PRODUCT, ...BOUNDS].map((x) => p[x].ratio.toFixed(3)), p[BOUNDS[2]].peakErrorToProduct.toFixed(2)]);
    }
    console.log(`${lag}, shadowscale+spill with a better forecast (unserved ÷ hpa at equal cost):\n${table.toString()}`);
    const out: Record<string, unknown> = {};
    for (const policy of [PRODUCT, ...BOUNDS]) {
      const m = (rs: typeof rows, f: (x: (typeof rows)[number]['policies'][string]) => number) => median(rs.map((r) => f(r.policies[policy])));
      const s = {
        ratioToHpa: m(rows, (x) => x.ratio),
        ratioToHpaA: m(rows.filter((r) => r.half === 'A'), (x) => x.ratio),
        ratioToHpaB: m(rows.filter((r) => r.half === 'B'), (x) => x.ratio),
        tracesAbove1_10: rows.filter((r) => r.policies[policy].ratio > 1.1).length,
        costToOracle: m(rows, (x) => x.costToOracle),
        peakErrorToProduct: m(rows, (x) => x.peakErrorToProduct),
        risesForeseen: m(rows, (x) => x.risesForeseen),
      };
      out[policy] = s;
      console.log(
        `${lag}: ${policy}: median ${s.ratioToHpa.toFixed(3)} (A ${s.ratioToHpaA.toFixed(3)}, B ${s.ratioToHpaB.toFixed(3)}), ${s.tracesAbove1_10} above 1.10, ` +
          `replica-seconds ÷ oracle's ${s.costToOracle.toFixed(2)}, peak error ÷ the product's ${s.peakErrorToProduct.toFixed(2)}, rises foreseen ${(100 * s.risesForeseen).toFixed(0)} %`,
      );
    }
    bounds[lag] = { ...out, perTrace: rows };
  });
  writeFileSync(join(RESULTS, 'perfect-forecast.json'), JSON.stringify({ generatedAt: new Date().toISOString(), wallSeconds: (performance.now() - started) / 1000, summary, betterForecast: bounds }, null, 1) + '\n');
  console.log(`${traces.length} traces in ${((performance.now() - started) / 1000).toFixed(0)} s; wrote bench/results/perfect-forecast.json`);
}

await main();
