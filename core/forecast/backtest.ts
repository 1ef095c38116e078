/**
 * Rolling-origin backtest: fit on the history up to an origin, forecast the next `horizon` steps,
 * compare with what happened, move the origin. The same windows serve every model, so scores compare.
 *
 * `auto` is scored honestly: at each window it uses the candidate with the lowest MAE on the windows
 * before it (the first `selectionWindows` windows are only used for that choice), i.e. exactly what a
 * live adapter choosing by its own recent backtest would have served.
 *
 * `riseWindows` adds windows where the load rose most, for the choice of the next model only: a few
 * evenly spread windows of a lag or two rarely fall on a daily spike, and a model that smooths the
 * noise then wins over one that foresees the spike.
 */
import { fitWithLadder, prepareHistory, type FitResult } from './ladder.ts';
import type { CleanOptions } from './outliers.ts';
import { detectPeriods, dominantPeriod } from './seasonality.ts';
import { DEFAULT_AUTO_CANDIDATES, ForecastInputError, LAG_RESCORE, type ModelChoice, type ModelName, type Rung } from './types.ts';

/** What `auto` chooses among unless told otherwise. Prophet is left out for its cost (seconds a fit). */
export { DEFAULT_AUTO_CANDIDATES, LAG_RESCORE };

export interface BacktestOptions {
  horizon: number;
  /** Windows that are scored. */
  folds: number;
  models: readonly ModelChoice[];
  stepSeconds: number;
  startSeconds: number;
  /** Windows before the scored ones, used only to choose `auto`'s first model. */
  selectionWindows?: number;
  autoCandidates?: readonly ModelName[];
  /** Fit on at most this many steps before each origin. */
  maxHistory?: number;
  periods?: readonly number[];
  cleanOutliers?: boolean | CleanOptions;
  /**
   * 1 where y holds a real sample, 0 where a gap was filled (prepareSeries' `sampled`). When given, a
   * filled point is neither scored nor counted in `auto`'s choice: a model is judged on what happened,
   * not on a straight line drawn across a hole.
   */
  sampled?: ArrayLike<number>;
  /**
   * Windows placed where the load rose most (by the peak over the horizon above the last sample before
   * it, in the second half of the series, at least max(horizon, 3) steps from each other and from the
   * scored windows), counted in `selected` and never scored: the scores stay those of evenly spread
   * windows. 0 (none) by default.
   */
  riseWindows?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface ModelScore {
  model: ModelChoice;
  mae: number;
  mase: number | null;
  relMae: number | null;
  smape: number;
  coverage80: number;
  coverage95: number;
  fitMs: number;
  /** How often each rung of the ladder produced the forecast. */
  rungs: Partial<Record<Rung, number>>;
  /** For `auto`: how often each model was chosen. */
  chosen?: Partial<Record<ModelName, number>>;
}

export interface BacktestResult {
  points: number;
  intervalSeconds: number;
  horizon: number;
  folds: number;
  origins: number[];
  /** The origins of the `riseWindows`, largest rise first (present when some were asked for). */
  riseOrigins?: number[];
  /** What `auto` picks for the next live forecast: lowest MAE over all windows, the rise windows included. */
  selected: ModelName;
  models: ModelScore[];
}

interface WindowOutcome {
  fit: FitResult;
  fitMs: number;
  /** Absolute errors at the real samples of the window (every step when no mask is given). */
  absErrors: number[];
}

/** The fewest points every fit of a backtest sees: half the series (at least 10). */
function minTrainOf(n: number): number {
  return Math.max(10, Math.ceil(n / 2));
}

export function foldOrigins(n: number, horizon: number, windows: number, period?: number): number[] {
  if (!Number.isInteger(horizon) || horizon < 1) throw new ForecastInputError(`horizon must be a positive integer, got ${horizon}`);
  if (!Number.isInteger(windows) || windows < 1) throw new ForecastInputError(`folds must be a positive integer, got ${windows}`);
  // Every fit sees at least half the series; the scored windows spread over the second half.
  const minTrain = minTrainOf(n);
  const room = n - horizon - minTrain;
  if (room < (windows - 1) * horizon) {
    throw new ForecastInputError(
      `horizon ${horizon} × ${windows} windows needs ${(windows - 1) * horizon + horizon + minTrain} points ` +
        `(half the series is kept for training), but the series has ${n}; lower --horizon or --folds`,
    );
  }
  let spacing = windows > 1 ? Math.max(horizon, Math.floor(room / (windows - 1))) : 0;
  // Windows one whole cycle apart would all start at the same time of day and test one phase only;
  // shift each by a share of the cycle so they sample all of it.
  if (period && spacing >= period) {
    const shifted = Math.floor(spacing / period) * period - period + Math.max(1, Math.round(period / windows));
    if (shifted >= horizon) spacing = shifted;
  }
  const origins: number[] = [];
  for (let k = 0; k < windows; k++) origins.push(n - horizon - (windows - 1 - k) * spacing);
  return origins;
}

function evaluateWindow(y: Float64Array, origin: number, model: ModelName, options: BacktestOptions): WindowOutcome {
  const from = options.maxHistory ? Math.max(0, origin - options.maxHistory) : 0;
  const train = y.subarray(from, origin);
  const started = performance.now();
  const history = prepareHistory(train, {
    horizon: options.horizon,
    stepSeconds: options.stepSeconds,
    startSeconds: options.startSeconds + from * options.stepSeconds,
    periods: options.periods,
    cleanOutliers: options.cleanOutliers,
  });
  const fit = fitWithLadder(history, model, options.horizon);
  const fitMs = performance.now() - started;
  const absErrors: number[] = [];
  fit.point.forEach((p, h) => {
    if (isSampled(options.sampled, origin + h)) absErrors.push(Math.abs(y[origin + h] - p));
  });
  return { fit, fitMs, absErrors };
}

export function backtest(y: Float64Array, options: BacktestOptions): BacktestResult {
  const selectionWindows = options.selectionWindows ?? 2;
  const candidates = options.autoCandidates ?? DEFAULT_AUTO_CANDIDATES;
  const wantsAuto = options.models.includes('auto');
  const fixed = new Set<ModelName>(options.models.filter((m): m is ModelName => m !== 'auto'));
  if (wantsAuto) for (const c of candidates) fixed.add(c);
  fixed.add('seasonal-naive'); // the reference of relMae

  const period = options.periods?.[0] ?? dominantPeriod(detectPeriods(y, options.stepSeconds));
  const windows = options.folds + (wantsAuto ? selectionWindows : 0);
  const origins = foldOrigins(y.length, options.horizon, windows, period);
  const scoredFrom = windows - options.folds;
  // Without `auto` in the list the candidates may not all be fitted: choose among those that are.
  const pool = candidates.filter((c) => fixed.has(c));
  const choosable = pool.length > 0 ? pool : [...fixed];
  // With one model to choose from, windows that only serve the choice would be fits for nothing.
  const riseOrigins = options.riseWindows && choosable.length > 1 ? largestRises(y, options.horizon, options.riseWindows, origins, options.sampled) : [];
  const allOrigins = [...origins, ...riseOrigins];

  const outcomes = new Map<ModelName, WindowOutcome[]>();
  const total = fixed.size * allOrigins.length;
  let done = 0;
  for (const model of fixed) {
    const perWindow: WindowOutcome[] = [];
    for (const origin of allOrigins) {
      options.onProgress?.(done, total, model);
      perWindow.push(evaluateWindow(y, origin, model, options));
      done++;
    }
    outcomes.set(model, perWindow);
  }
  options.onProgress?.(total, total, 'done');

  const maeOver = (model: ModelName, ws: number[]): number => {
    const errors = ws.flatMap((w) => outcomes.get(model)![w].absErrors);
    // No real sample in these windows: nothing to choose on (the first candidate stays).
    return errors.length > 0 ? errors.reduce((s, e) => s + e, 0) / errors.length : Infinity;
  };
  const best = (ws: number[]): ModelName =>
    choosable.reduce((a, b) => (maeOver(b, ws) < maeOver(a, ws) ? b : a), choosable[0]);

  const scored = range(scoredFrom, windows);
  const scores: ModelScore[] = [];
  const reference = score(y, origins, scored.map((w) => outcomes.get('seasonal-naive')![w]), scored, options.horizon, options.sampled);
  for (const model of options.models) {
    let perWindow: WindowOutcome[];
    let chosen: Partial<Record<ModelName, number>> | undefined;
    if (model === 'auto') {
      chosen = {};
      perWindow = scored.map((w) => {
        const pick = best(range(0, w));
        chosen![pick] = (chosen![pick] ?? 0) + 1;
        return outcomes.get(pick)![w];
      });
    } else {
      perWindow = scored.map((w) => outcomes.get(model)![w]);
    }
    const s = score(y, origins, perWindow, scored, options.horizon, options.sampled);
    scores.push({
      model,
      ...s,
      relMae: reference.mae > 0 ? s.mae / reference.mae : null,
      ...(chosen ? { chosen } : {}),
    });
  }
  return {
    points: y.length,
    intervalSeconds: options.stepSeconds,
    horizon: options.horizon,
    folds: options.folds,
    origins: scored.map((w) => origins[w]),
    ...(options.riseWindows ? { riseOrigins } : {}),
    selected: best(range(0, allOrigins.length)),
    models: scores,
  };
}

/**
 * The origins of the `k` largest rises in the second half of `y`: the peak of the real samples over
 * `horizon` steps above the real sample just before, positive only, apart from each other and from
 * `taken` by at least max(horizon, 3) steps (so two windows never overlap or sit on one ramp's steps).
 */
export function largestRises(y: Float64Array, horizon: number, k: number, taken: readonly number[], sampled?: ArrayLike<number>): number[] {
  const n = y.length;
  const rises: Array<{ rise: number; origin: number }> = [];
  for (let origin = minTrainOf(n); origin <= n - horizon; origin++) {
    if (!isSampled(sampled, origin - 1)) continue;
    let peak = -Infinity;
    for (let h = 0; h < horizon; h++) if (isSampled(sampled, origin + h)) peak = Math.max(peak, y[origin + h]);
    if (peak - y[origin - 1] > 0) rises.push({ rise: peak - y[origin - 1], origin });
  }
  rises.sort((a, b) => b.rise - a.rise || a.origin - b.origin);
  const apart = Math.max(horizon, 3);
  const picked: number[] = [];
  for (const { origin } of rises) {
    if (picked.length >= k) break;
    if (taken.some((o) => Math.abs(o - origin) < apart) || picked.some((o) => Math.abs(o - origin) < apart)) continue;
    picked.push(origin);
  }
  return picked;
}

function score(
  y: Float64Array,
  origins: number[],
  perWindow: WindowOutcome[],
  windowIndexes: number[],
  horizon: number,
  sampled: ArrayLike<number> | undefined,
): Omit<ModelScore, 'model' | 'relMae'> {
  let absSum = 0;
  let scaledSum = 0;
  let scaledCount = 0;
  let smapeSum = 0;
  let in80 = 0;
  let in95 = 0;
  let count = 0;
  let fitMs = 0;
  const rungs: Partial<Record<Rung, number>> = {};
  perWindow.forEach((outcome, i) => {
    const origin = origins[windowIndexes[i]];
    const scale = naiveInSampleMae(y, origin);
    const { fit } = outcome;
    rungs[fit.rung] = (rungs[fit.rung] ?? 0) + 1;
    fitMs += outcome.fitMs;
    for (let h = 0; h < horizon; h++) {
      if (!isSampled(sampled, origin + h)) continue;
      const actual = y[origin + h];
      const predicted = fit.point[h];
      const e = Math.abs(actual - predicted);
      absSum += e;
      if (scale > 0) {
        scaledSum += e / scale;
        scaledCount++;
      }
      const denominator = Math.abs(actual) + Math.abs(predicted);
      smapeSum += denominator > 0 ? (200 * e) / denominator : 0;
      if (actual >= fit.intervals[0.8].lower[h] && actual <= fit.intervals[0.8].upper[h]) in80++;
      if (actual >= fit.intervals[0.95].lower[h] && actual <= fit.intervals[0.95].upper[h]) in95++;
      count++;
    }
  });
  if (count === 0) throw new ForecastInputError(`no real sample in the ${perWindow.length} scored windows: every point there was a filled gap`);
  return {
    mae: absSum / count,
    mase: scaledCount > 0 ? scaledSum / scaledCount : null,
    smape: smapeSum / count,
    coverage80: in80 / count,
    coverage95: in95 / count,
    fitMs: fitMs / perWindow.length,
    rungs,
  };
}

/** MASE's scale: the in-sample MAE of the one-step naive forecast on the training part. */
function naiveInSampleMae(y: Float64Array, origin: number): number {
  let sum = 0;
  for (let i = 1; i < origin; i++) sum += Math.abs(y[i] - y[i - 1]);
  return origin > 1 ? sum / (origin - 1) : 0;
}

function isSampled(sampled: ArrayLike<number> | undefined, i: number): boolean {
  return sampled === undefined || sampled[i] !== 0;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
