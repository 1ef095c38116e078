/**
 * `npm run bench:forecast`: backtests every model on the real series of ../shared/data and reports
 * relMae, coverage and fit time per series and their medians; measures the effect of cleaning
 * anomalous cycles; times MSTL on one week of minutes. A benchmark: it reports, it asserts nothing.
 *
 * Options: --only SUBSTRING (series whose path contains it), --folds N, --no-prophet.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { LOAD_SERIES, ZERO_IS_MISSING } from './traces.ts';

import { backtest, DEFAULT_AUTO_CANDIDATES, type BacktestResult } from '../core/forecast/backtest.ts';
import { forecast, loadForecastModels } from '../core/forecast/engine.ts';
import { prepareSeries } from '../core/forecast/prepare.ts';
import { MODEL_NAMES, type ModelChoice } from '../core/forecast/types.ts';
import { parseSeriesCsv } from '../core/series/csv.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(ROOT, '..', 'shared', 'data');



interface SeriesReport {
  series: string;
  points: number;
  intervalSeconds: number;
  horizon: number;
  selected: string;
  models: BacktestResult['models'];
  /** MAE with cleaning ÷ MAE without, for models sensitive to a bad cycle. */
  cleaningMaeRatio: Record<string, number | null>;
  error?: string;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function median(xs: number[]): number | null {
  const a = xs.filter(Number.isFinite).sort((x, y) => x - y);
  if (a.length === 0) return null;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

const fmt = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? '-' : x.toFixed(d));

async function main(): Promise<void> {
  if (!existsSync(DATA)) {
    console.error(`bench:forecast: no data at ${DATA}; the benchmark reads the team's shared/data`);
    process.exit(1);
  }
  const only = arg('--only');
  const folds = Number(arg('--folds') ?? 10);
  const withProphet = !process.argv.includes('--no-prophet');
  const models: ModelChoice[] = ['auto', ...MODEL_NAMES.filter((m) => withProphet || m !== 'prophet')];
  if (withProphet) await loadForecastModels();

  const selected = LOAD_SERIES.filter((s) => !only || s.includes(only));
  const reports: SeriesReport[] = [];
  const started = performance.now();
  for (const [index, name] of selected.entries()) {
    const file = join(DATA, name);
    process.stderr.write(`[${index + 1}/${selected.length}] ${name} ... `);
    const t0 = performance.now();
    try {
      const prepared = prepareSeries(parseSeriesCsv(readFileSync(file, 'utf8'), name), { zeroIsMissing: ZERO_IS_MISSING.has(name) });
      const horizon = Math.max(1, Math.round(3600 / prepared.stepSeconds));
      const common = {
        horizon,
        folds,
        stepSeconds: prepared.stepSeconds,
        startSeconds: prepared.start,
        sampled: prepared.sampled,
        maxHistory: Math.round((14 * 86_400) / prepared.stepSeconds),
      };
      const result = backtest(prepared.values, { ...common, models });
      const ablation = backtest(prepared.values, { ...common, models: ['mstl', 'seasonal-naive'], cleanOutliers: false });
      const cleaningMaeRatio: Record<string, number | null> = {};
      for (const m of ablation.models) {
        const cleaned = result.models.find((r) => r.model === m.model)!;
        cleaningMaeRatio[m.model] = m.mae > 0 ? cleaned.mae / m.mae : null;
      }
      reports.push({ series: name, points: result.points, intervalSeconds: result.intervalSeconds, horizon, selected: result.selected, models: result.models, cleaningMaeRatio });
      const auto = result.models.find((m) => m.model === 'auto')!;
      process.stderr.write(`auto relMae ${fmt(auto.relMae)} cover95 ${fmt(auto.coverage95)} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    } catch (error) {
      process.stderr.write(`skipped: ${(error as Error).message}\n`);
      reports.push({ series: name, points: 0, intervalSeconds: 0, horizon: 0, selected: '-', models: [], cleaningMaeRatio: {}, error: (error as Error).message });
    }
  }

  // Per series: relMae of each model and the auto row's coverage and fit time.
  const table = new Table({ style: { head: [], border: [] }, head: ['series', 'step', 'h', ...models.map((m) => `${m} relMae`), 'auto cov80', 'auto cov95', 'auto fit ms', 'selected'] });
  for (const r of reports.filter((x) => !x.error)) {
    const by = Object.fromEntries(r.models.map((m) => [m.model, m]));
    table.push([r.series.split('/').pop()!.replace(/\.csv$/, ''), `${r.intervalSeconds}s`, r.horizon, ...models.map((m) => fmt(by[m]?.relMae)), fmt(by.auto.coverage80), fmt(by.auto.coverage95), fmt(by.auto.fitMs, 0), r.selected]);
  }
  const ok = reports.filter((x) => !x.error);
  const medians: Record<string, Record<string, number | null>> = {};
  for (const m of models) {
    const rows = ok.map((r) => r.models.find((x) => x.model === m)!);
    medians[m] = {
      relMae: median(rows.map((x) => x.relMae ?? NaN)),
      mase: median(rows.map((x) => x.mase ?? NaN)),
      coverage80: median(rows.map((x) => x.coverage80)),
      coverage95: median(rows.map((x) => x.coverage95)),
      fitMs: median(rows.map((x) => x.fitMs)),
    };
  }
  table.push(['MEDIAN', '', '', ...models.map((m) => fmt(medians[m].relMae)), fmt(medians.auto.coverage80), fmt(medians.auto.coverage95), fmt(medians.auto.fitMs, 0), '']);
  console.log(table.toString());

  const summary = new Table({ style: { head: [], border: [] }, head: ['model', 'median relMae', 'median MASE', 'median cov80', 'median cov95', 'median fit ms'] });
  for (const m of models) summary.push([m, fmt(medians[m].relMae), fmt(medians[m].mase), fmt(medians[m].coverage80), fmt(medians[m].coverage95), fmt(medians[m].fitMs, 0)]);
  console.log(summary.toString());

  // How far auto's choice is from the best it could have made: per series, the lowest relMae among its
  // candidates on the scored windows, known only afterwards. No choice among them does better.
  const hindsight = ok.map((r) => Math.min(...r.models.filter((m) => (DEFAULT_AUTO_CANDIDATES as readonly string[]).includes(m.model)).map((m) => m.relMae ?? Infinity)));
  const hindsightMedian = median(hindsight);
  console.log(`auto's candidates (${DEFAULT_AUTO_CANDIDATES.join(', ')}), the best per series chosen in hindsight on the scored windows: median relMae ${fmt(hindsightMedian)} (auto ${fmt(medians.auto?.relMae)})`);

  const cleaning = Object.fromEntries(
    ['mstl', 'seasonal-naive'].map((m) => [m, median(ok.map((r) => r.cleaningMaeRatio[m] ?? NaN))]),
  );
  const improved = ok.filter((r) => (r.cleaningMaeRatio['seasonal-naive'] ?? 1) < 0.99).map((r) => r.series.split('/').pop());
  console.log(`cleaning anomalous cycles: median MAE ratio (cleaned ÷ raw) mstl ${fmt(cleaning.mstl)}, seasonal-naive ${fmt(cleaning['seasonal-naive'])}; seasonal-naive improved by >1 % on: ${improved.join(', ') || 'none'}`);

  // MSTL fit + predict on one week of one-minute points, the issue's latency floor.
  const nasa = parseSeriesCsv(readFileSync(join(DATA, 'nasa_http/nasa_http_1995-07_per_minute.csv'), 'utf8'));
  const week = { timestamps: nasa.timestamps.slice(0, 10_080), values: nasa.values.slice(0, 10_080) };
  const timings: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    forecast(week, { model: 'mstl', horizon: 60 });
    timings.push(performance.now() - t0);
  }
  const mstlWeekMs = median(timings)!;
  console.log(`mstl fit + predict (with detection and cleaning), 10,080 one-minute points, horizon 60: median ${mstlWeekMs.toFixed(0)} ms over 5 runs (min ${Math.min(...timings).toFixed(0)}, max ${Math.max(...timings).toFixed(0)})`);
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);

  const out = join(ROOT, 'bench', 'results', 'forecast.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        machine: `${process.platform} ${process.arch}, node ${process.version}`,
        folds,
        horizon: 'one hour of steps per series',
        history: '14d before each origin',
        medians,
        hindsightBestCandidateRelMaeMedian: hindsightMedian,
        cleaningMaeRatioMedian: cleaning,
        mstlWeekOfMinutesMs: { median: mstlWeekMs, runs: timings },
        series: reports.map((r) => ({ ...r, series: relative(join(ROOT, '..'), join(DATA, r.series)) })),
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${relative(process.cwd(), out)}`);
}

await main();
