/**
 * The forecasting engine's front door: a series in, a forecast with 80 % and 95 % bands out.
 *
 *   prepareSeries   regular grid, NaN/Inf/negatives dropped, gaps imputed (prepare.ts)
 *   prepareHistory  seasonal periods detected, anomalous cycles cleaned (ladder.ts)
 *   choose          the requested model, or for `auto` the best by a short backtest (backtest.ts)
 *   fitWithLadder   the model, or the rungs below it when it cannot fit (ladder.ts)
 */
import { loadProphetOptimizer } from './augurs.ts';
import { backtest, DEFAULT_AUTO_CANDIDATES } from './backtest.ts';
import { fitWithLadder, prepareHistory } from './ladder.ts';
import type { CleanOptions } from './outliers.ts';
import { prepareSeries } from './prepare.ts';
import { ForecastInputError, type Forecast, type ModelChoice, type ModelName, type Series } from './types.ts';

export interface ForecastOptions {
  horizon: number;
  model?: ModelChoice;
  /** Grid step in seconds; the median spacing of the input by default. */
  stepSeconds?: number;
  /** Seasonal periods in steps; detected from the data when absent. */
  periods?: readonly number[];
  /** Fit at most this many most recent steps. */
  maxHistory?: number;
  cleanOutliers?: boolean | CleanOptions;
  autoCandidates?: readonly ModelName[];
  /** Windows of the backtest behind `auto` (default 3). */
  selectionFolds?: number;
}

/** Loads what cannot load lazily (Prophet's optimiser uses top-level await). Call once at start-up. */
export async function loadForecastModels(): Promise<void> {
  await loadProphetOptimizer();
}

export function forecast(series: Series, options: ForecastOptions): Forecast {
  if (!Number.isInteger(options.horizon) || options.horizon < 1) {
    throw new ForecastInputError(`horizon must be a positive integer number of steps, got ${options.horizon}`);
  }
  const prepared = prepareSeries(series, { stepSeconds: options.stepSeconds, maxPoints: options.maxHistory });
  const model = options.model ?? 'auto';
  const history = prepareHistory(prepared.values, {
    horizon: options.horizon,
    stepSeconds: prepared.stepSeconds,
    startSeconds: prepared.start,
    periods: options.periods,
    cleanOutliers: options.cleanOutliers,
  });

  const reasons: string[] = [];
  let chosen: ModelName;
  if (model === 'auto') {
    const choice = chooseModel(prepared.values, prepared.stepSeconds, prepared.start, options, prepared.sampled);
    chosen = choice.model;
    if (choice.reason) reasons.push(choice.reason);
  } else {
    chosen = model;
  }
  const fit = fitWithLadder(history, chosen, options.horizon);
  return {
    model,
    rung: fit.rung,
    fallbackReasons: [...reasons, ...fit.fallbackReasons],
    detail: model === 'auto' ? `auto chose ${chosen}${fit.detail ? `; ${fit.detail}` : ''}` : fit.detail,
    start: prepared.start + prepared.values.length * prepared.stepSeconds,
    stepSeconds: prepared.stepSeconds,
    point: fit.point,
    intervals: fit.intervals,
    periods: fit.periods,
    warnings: [...prepared.warnings, ...fit.warnings],
  };
}

/**
 * `auto`: the candidate with the lowest MAE over the last few windows of the history. Too short a
 * history for a backtest means the first candidate, whose own ladder then copes with the shortness.
 */
export function chooseModel(
  y: Float64Array,
  stepSeconds: number,
  startSeconds: number,
  options: ForecastOptions,
  sampled?: ArrayLike<number>,
): { model: ModelName; reason?: string } {
  const candidates = options.autoCandidates ?? DEFAULT_AUTO_CANDIDATES;
  try {
    const result = backtest(y, {
      horizon: options.horizon,
      folds: options.selectionFolds ?? 3,
      selectionWindows: 0,
      models: candidates,
      autoCandidates: candidates,
      stepSeconds,
      startSeconds,
      sampled,
      maxHistory: options.maxHistory,
      periods: options.periods,
      cleanOutliers: options.cleanOutliers,
    });
    return { model: result.selected };
  } catch (error) {
    if (!(error instanceof ForecastInputError)) throw error;
    return { model: candidates[0], reason: `auto: history too short to backtest (${error.message}); using ${candidates[0]}` };
  }
}
