/**
 * `shadowscale backtest`: rolling-origin evaluation of the forecasting models on one series.
 */
import { readFileSync } from 'node:fs';
import Table from 'cli-table3';
import cliProgress from 'cli-progress';

import { parseDuration } from '../core/duration.ts';
import { backtest, type BacktestResult } from '../core/forecast/backtest.ts';
import { loadForecastModels } from '../core/forecast/engine.ts';
import { prepareSeries } from '../core/forecast/prepare.ts';
import { MODEL_NAMES, type ModelChoice, type ModelName } from '../core/forecast/types.ts';
import { parseSeriesCsv } from '../core/series/csv.ts';
import { UsageError } from './errors.ts';

const ALL_CHOICES: readonly ModelChoice[] = ['auto', ...MODEL_NAMES];

export interface BacktestCliOptions {
  input: string;
  horizon?: string;
  folds: string;
  models: string;
  autoCandidates: string;
  history: string;
  clean: boolean;
  zeroAsMissing?: boolean;
  json?: boolean;
}

export function parseModelList(text: string, flag: string): ModelChoice[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError(`${flag} is empty; expected some of ${ALL_CHOICES.join(', ')}`);
  for (const name of names) {
    if (!(ALL_CHOICES as readonly string[]).includes(name)) {
      throw new UsageError(`${flag}: unknown model "${name}"; expected one of ${ALL_CHOICES.join(', ')}`);
    }
  }
  return names as ModelChoice[];
}

function positiveInteger(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${text}"`);
  return n;
}

export async function runBacktest(options: BacktestCliOptions, out: NodeJS.WritableStream = process.stdout): Promise<BacktestResult> {
  let text: string;
  try {
    text = readFileSync(options.input, 'utf8');
  } catch (error) {
    throw new UsageError(`--input ${options.input}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  const series = parseSeriesCsv(text, options.input);
  const models = parseModelList(options.models, '--models');
  const autoCandidates = parseModelList(options.autoCandidates, '--auto-candidates').filter((m): m is ModelName => m !== 'auto');
  const folds = positiveInteger(options.folds, '--folds');
  const historySeconds = parseDuration(options.history);
  if (historySeconds === undefined) throw new UsageError(`--history "${options.history}" is not a duration such as 14d or 36h`);

  const prepared = prepareSeries(series, { zeroIsMissing: options.zeroAsMissing });
  const step = prepared.stepSeconds;
  // One hour of steps by default: beyond any provisioning lag, short enough to stay meaningful.
  const horizon = options.horizon !== undefined ? positiveInteger(options.horizon, '--horizon') : Math.max(1, Math.round(3600 / step));
  if (horizon >= prepared.values.length) {
    throw new UsageError(`--horizon ${horizon} is not shorter than the series (${prepared.values.length} points of ${step}s in ${options.input})`);
  }
  if (models.includes('prophet') || autoCandidates.includes('prophet')) await loadForecastModels();

  const showProgress = !options.json && process.stderr.isTTY;
  const bar = showProgress
    ? new cliProgress.SingleBar({ format: 'backtest {bar} {value}/{total} fits | {model}', stream: process.stderr }, cliProgress.Presets.shades_classic)
    : undefined;
  let started = false;
  const result = backtest(prepared.values, {
    horizon,
    folds,
    models,
    autoCandidates,
    stepSeconds: step,
    startSeconds: prepared.start,
    sampled: prepared.sampled,
    maxHistory: Math.max(1, Math.round(historySeconds / step)),
    cleanOutliers: options.clean,
    onProgress: (done, total, model) => {
      if (!bar) return;
      if (!started) {
        bar.start(total, done, { model });
        started = true;
      } else bar.update(done, { model });
    },
  });
  bar?.stop();

  if (options.json) {
    out.write(`${JSON.stringify(toJson(options.input, result))}\n`);
  } else {
    out.write(renderTable(options.input, result, prepared.warnings));
  }
  return result;
}

export function toJson(input: string, result: BacktestResult) {
  return {
    input,
    points: result.points,
    intervalSeconds: result.intervalSeconds,
    horizon: result.horizon,
    folds: result.folds,
    selected: result.selected,
    models: result.models.map((m) => ({
      model: m.model,
      mae: m.mae,
      mase: m.mase,
      relMae: m.relMae,
      smape: m.smape,
      coverage80: m.coverage80,
      coverage95: m.coverage95,
      fitMs: m.fitMs,
      rungs: m.rungs,
      ...(m.chosen ? { chosen: m.chosen } : {}),
    })),
  };
}

function renderTable(input: string, result: BacktestResult, warnings: string[]): string {
  const table = new Table({ style: { head: [], border: [] }, head: ['model', 'MAE', 'MASE', 'relMAE', 'sMAPE %', 'cover 80%', 'cover 95%', 'fit ms', 'rungs'] });
  const fmt = (x: number | null, digits = 3) => (x === null ? '-' : x.toFixed(digits));
  for (const m of result.models) {
    const rungs = Object.entries(m.rungs).map(([r, n]) => `${r}×${n}`).join(' ');
    const chosen = m.chosen ? ` (chose ${Object.entries(m.chosen).map(([r, n]) => `${r}×${n}`).join(' ')})` : '';
    table.push([m.model, fmt(m.mae, 2), fmt(m.mase), fmt(m.relMae), fmt(m.smape, 1), fmt(m.coverage80, 3), fmt(m.coverage95, 3), fmt(m.fitMs, 0), rungs + chosen]);
  }
  const lines = [
    `${input}: ${result.points} points every ${result.intervalSeconds}s; horizon ${result.horizon} steps; ${result.folds} scored windows`,
    ...warnings.map((w) => `note: ${w}`),
    table.toString(),
    `auto selects: ${result.selected}`,
    '',
  ];
  return lines.join('\n');
}
