/**
 * Moving median: the next `horizon` steps at the median of the last k observations, with k chosen on
 * the history by the error it would have made at that horizon. For load with no cycle to model (CPU
 * and network of a busy host: a level, noise and short spikes), the last value is a noisy forecast and
 * a model fitted on one-step error (AutoETS) follows the noise or a spike; the median of a window
 * sized for the horizon ignores both.
 *
 *   window   k from WINDOWS (1 to 288 steps: a day at 5-minute steps), the one whose forecasts from the last
 *            EVALUATED_ORIGINS origins of the history had the lowest mean absolute error over the
 *            horizon (the horizon's own error, not one step's);
 *   shift    when the last SHIFT_POINTS observations all sit more than SHIFT_SIGMAS robust standard
 *            deviations on one side of the window's median, the level has moved: the forecast is their
 *            median, not the window's, which would take half a window to follow;
 *   bands    the empirical quantiles of the signed errors of that window at each step ahead, over the
 *            same origins: asymmetric where load is (spikes go up).
 */
import { sortedQuantile } from '../intervals.ts';
import { LEVELS, InsufficientHistoryError, type Band, type ForecastModel, type Level, type ModelOutput } from '../types.ts';

/** Candidate windows, in steps. */
const WINDOWS = [1, 2, 3, 6, 12, 24, 48, 96, 288];
/** How many past origins score each window (the most recent ones). */
const EVALUATED_ORIGINS = 1000;
/** A level shift: this many last points ... */
const SHIFT_POINTS = 3;
/** ... all beyond this many robust standard deviations (1.4826 × MAD) of the window, on one side. */
const SHIFT_SIGMAS = 4;
/** Origins needed to score a window at all. */
const MIN_ORIGINS = 20;

export const movingMedian: ForecastModel = {
  name: 'moving-median',
  fallbacks: ['naive'],
  forecast(y: Float64Array, horizon: number): ModelOutput {
    const n = y.length;
    const windows = WINDOWS.filter((k) => k <= n / 2 && n - horizon + 1 - k >= MIN_ORIGINS);
    if (windows.length === 0) {
      throw new InsufficientHistoryError(`needs at least ${horizon + MIN_ORIGINS} points for a horizon of ${horizon}, got ${n}`);
    }
    // Origins t: the forecast made after y[t-1] for y[t .. t+horizon-1], from the median of y[t-k .. t-1].
    let best: { k: number; mae: number; from: number; medians: Float64Array } | undefined;
    for (const k of windows) {
      const from = Math.max(k, n - horizon + 1 - EVALUATED_ORIGINS);
      const medians = slidingMedians(y, k, from, n - horizon);
      let sum = 0;
      for (let i = 0; i < medians.length; i++) for (let h = 0; h < horizon; h++) sum += Math.abs(y[from + i + h] - medians[i]);
      const mae = sum / (medians.length * horizon);
      if (!best || mae < best.mae) best = { k, mae, from, medians };
    }
    const { k, from, medians } = best!;
    // The signed errors of that window at each step ahead.
    const errors: Float64Array[] = Array.from({ length: horizon }, (_, h) => medians.map((m, i) => y[from + i + h] - m));

    let level = median(y, n - k, n);
    let detail = `window=${k}`;
    if (k > SHIFT_POINTS) {
      const sigma = 1.4826 * medianAbsoluteDeviation(y.subarray(n - k), level);
      const tail = y.subarray(n - SHIFT_POINTS);
      const above = tail.every((v) => v > level + SHIFT_SIGMAS * sigma);
      const below = tail.every((v) => v < level - SHIFT_SIGMAS * sigma);
      if (above || below) {
        level = median(y, n - SHIFT_POINTS, n);
        detail += `; level moved ${above ? 'up' : 'down'} in the last ${SHIFT_POINTS} steps, following it`;
      }
    }
    const point = new Array<number>(horizon).fill(level);
    const intervals = {} as Record<Level, Band>;
    for (const l of LEVELS) {
      const lower: number[] = [];
      const upper: number[] = [];
      for (let h = 0; h < horizon; h++) {
        const sorted = Float64Array.from(errors[h]).sort();
        lower.push(level + Math.min(0, sortedQuantile(sorted, (1 - l) / 2)));
        upper.push(level + Math.max(0, sortedQuantile(sorted, (1 + l) / 2)));
      }
      intervals[l] = { lower, upper };
    }
    return { point, intervals, detail };
  },
};

/**
 * The medians of the k values before each origin t in [from, to]: y[t-k .. t-1]. A sorted copy of the
 * window slides along (one value out, one in), so each origin costs a move of at most k values, not a sort.
 */
export function slidingMedians(y: Float64Array, k: number, from: number, to: number): Float64Array {
  const out = new Float64Array(Math.max(0, to - from + 1));
  if (out.length === 0) return out;
  const window = y.slice(from - k, from).sort();
  const m = k >> 1;
  const middle = () => (k % 2 ? window[m] : (window[m - 1] + window[m]) / 2);
  out[0] = middle();
  for (let t = from + 1; t <= to; t++) {
    // y[t-1-k] leaves, y[t-1] enters.
    const leaving = lowerBound(window, y[t - 1 - k], k);
    window.copyWithin(leaving, leaving + 1, k);
    const entering = lowerBound(window, y[t - 1], k - 1);
    window.copyWithin(entering + 1, entering, k - 1);
    window[entering] = y[t - 1];
    out[t - from] = middle();
  }
  return out;
}

/** The first index in sorted[0 .. length-1] whose value is not below v. */
function lowerBound(sorted: Float64Array, v: number, length: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Median of y[from .. to-1]. */
function median(y: Float64Array, from: number, to: number): number {
  const a = y.slice(from, to).sort();
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

function medianAbsoluteDeviation(y: Float64Array, center: number): number {
  const deviations = y.map((v) => Math.abs(v - center));
  return median(deviations, 0, deviations.length);
}
