/**
 * Fits one model to a prepared series and walks down its fallback ladder when it cannot, so a caller
 * always gets a finite forecast and is told which rung produced it and why.
 */
import { MODELS } from './models/index.ts';
import { naiveForecast } from './models/naive.ts';
import { cleanOutlierCycles, type CleanOptions } from './outliers.ts';
import { detectPeriods, dominantPeriod } from './seasonality.ts';
import { LEVELS, type Band, type FitContext, type Level, type ModelName, type ModelOutput, type Rung } from './types.ts';

export interface FitOptions {
  horizon: number;
  stepSeconds: number;
  /** Unix seconds of y[0]. */
  startSeconds: number;
  /** Seasonal periods in steps; detected from the data when absent. */
  periods?: readonly number[];
  /** Replace anomalous cycles before fitting (default true). */
  cleanOutliers?: boolean | CleanOptions;
}

export interface FitResult {
  rung: Rung;
  fallbackReasons: string[];
  detail?: string;
  point: number[];
  intervals: Record<Level, Band>;
  /** All periods considered (given or detected). */
  periods: number[];
  warnings: string[];
}

/** Periods and cleaning depend only on the history, not on the model: compute them once per fit. */
export interface PreparedHistory {
  y: Float64Array;
  ctx: FitContext;
  periods: number[];
  warnings: string[];
}

export function prepareHistory(y: Float64Array, options: FitOptions): PreparedHistory {
  const warnings: string[] = [];
  let periods: number[];
  let dominant: number | undefined;
  if (options.periods) {
    periods = [...options.periods].sort((a, b) => a - b);
    dominant = periods[0];
  } else {
    const detected = detectPeriods(y, options.stepSeconds);
    periods = detected.map((d) => d.period);
    dominant = dominantPeriod(detected);
  }
  const usable = periods.filter((p) => p >= 2 && y.length >= 2 * p);
  for (const p of periods) {
    if (!usable.includes(p)) warnings.push(`period ${p} dropped: history of ${y.length} steps holds less than two cycles`);
  }
  if (dominant !== undefined && !usable.includes(dominant)) dominant = usable[usable.length - 1];

  let values = y;
  const clean = options.cleanOutliers ?? true;
  if (clean !== false && dominant !== undefined) {
    const cleanOptions: CleanOptions = clean === true ? {} : clean;
    const result = cleanOutlierCycles(y, dominant, { keepRecent: Math.ceil(dominant / 24), ...cleanOptions });
    if (result.replaced > 0) {
      values = result.values;
      warnings.push(`replaced ${result.replaced} outlying points in ${result.cycles.length} of the ${Math.floor(y.length / dominant)} cycles of ${dominant} steps`);
    }
  }
  return {
    y: values,
    ctx: { periods: usable, dominantPeriod: dominant, stepSeconds: options.stepSeconds, startSeconds: options.startSeconds },
    periods,
    warnings,
  };
}

export function fitWithLadder(history: PreparedHistory, model: ModelName, horizon: number): FitResult {
  if (history.y.length === 0) throw new Error('cannot forecast an empty series');
  if (!Number.isInteger(horizon) || horizon < 1) throw new Error(`horizon must be a positive integer, got ${horizon}`);
  const reasons: string[] = [];
  const ladder: Rung[] = [model, ...MODELS[model].fallbacks];
  for (const rung of ladder) {
    let output: ModelOutput;
    try {
      output = rung === 'naive' ? naiveForecast(history.y, horizon) : MODELS[rung].forecast(history.y, horizon, history.ctx);
      checkFinite(output, horizon);
    } catch (error) {
      reasons.push(`${rung}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const intervals = nonNegativeNested(output);
    return {
      rung,
      fallbackReasons: reasons,
      detail: output.detail,
      point: output.point.map((p) => Math.max(0, p)),
      intervals,
      periods: history.periods,
      warnings: history.y.length < 3 ? [...history.warnings, `only ${history.y.length} points: band width is not estimable`] : history.warnings,
    };
  }
  // naive cannot fail on a finite, non-empty series; reaching here means the input was not prepared.
  throw new Error(`every rung failed: ${reasons.join('; ')}`);
}

function checkFinite(output: ModelOutput, horizon: number): void {
  const arrays = [output.point, ...LEVELS.flatMap((l) => [output.intervals[l].lower, output.intervals[l].upper])];
  for (const a of arrays) {
    if (a.length !== horizon) throw new Error(`returned ${a.length} steps instead of ${horizon}`);
    if (!a.every(Number.isFinite)) throw new Error('returned a non-finite value');
  }
}

/**
 * Load is never negative, and the bands must nest: lower95 <= lower80 <= point <= upper80 <= upper95.
 * Models guarantee this in theory; clipping makes it hold after rounding and the zero floor.
 */
function nonNegativeNested(output: ModelOutput): Record<Level, Band> {
  const point = output.point;
  const i80 = output.intervals[0.8];
  const i95 = output.intervals[0.95];
  const lower80 = point.map((p, h) => Math.max(0, Math.min(p, i80.lower[h])));
  const upper80 = point.map((p, h) => Math.max(0, p, i80.upper[h]));
  return {
    0.8: { lower: lower80, upper: upper80 },
    0.95: {
      lower: lower80.map((l, h) => Math.max(0, Math.min(l, i95.lower[h]))),
      upper: upper80.map((u, h) => Math.max(u, i95.upper[h])),
    },
  } as Record<Level, Band>;
}
