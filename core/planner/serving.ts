/**
 * The forecast → plan pipeline, as the adapter serves it and the simulator replays it: the steps of a
 * forecast from now to one provisioning lag ahead, and how much the load moves over one lag. Both
 * feed `plan()`; the adapter (adapter/serving.ts) and the simulator's shadowscale policy call these
 * functions and nothing of their own, so a simulated plan is the plan the adapter would serve.
 */
import type { Band, Level } from '../forecast/types.ts';
import { lagVolatility, type PlannerForecast } from './planner.ts';

/** The load's volatility is measured over the last hour. */
export const VOLATILITY_WINDOW_SECONDS = 3600;

/** A forecast on its step grid: `point[i]` (and the bands) at `start + i × stepSeconds`. */
export interface ForecastGrid {
  start: number;
  stepSeconds: number;
  point: readonly number[];
  intervals: Record<Level, Band>;
}

/**
 * The steps of the forecast from now to one lag ahead: from the step that holds now to the first step
 * at or after now + lag (rounded up, so the whole lag is covered); undefined once the forecast has run
 * out.
 */
export function forecastWindow(f: ForecastGrid, nowS: number, lagSeconds: number): PlannerForecast | undefined {
  const range = forecastWindowRange(f, nowS, lagSeconds);
  if (!range) return undefined;
  const { first, last } = range;
  return {
    point: f.point.slice(first, last + 1),
    upper80: f.intervals[0.8].upper.slice(first, last + 1),
    upper95: f.intervals[0.95].upper.slice(first, last + 1),
  };
}

/** The indexes of forecastWindow's first and last steps, without copying them; undefined once the forecast has run out. */
export function forecastWindowRange(f: ForecastGrid, nowS: number, lagSeconds: number): { first: number; last: number } | undefined {
  const first = Math.max(0, Math.floor((nowS - f.start) / f.stepSeconds));
  const last = Math.min(f.point.length - 1, Math.ceil((nowS + lagSeconds - f.start) / f.stepSeconds));
  return first > f.point.length - 1 || last < first ? undefined : { first, last };
}

/** A forecast's point and bands at one moment. */
export interface BandAt {
  point: number;
  lower80: number;
  upper80: number;
  lower95: number;
  upper95: number;
}

/** The forecast's step nearest to `t` (unix seconds); undefined outside the forecast. */
export function bandAt(f: ForecastGrid, t: number): BandAt | undefined {
  const i = Math.round((t - f.start) / f.stepSeconds);
  if (i < 0 || i >= f.point.length) return undefined;
  return {
    point: f.point[i],
    lower80: f.intervals[0.8].lower[i],
    upper80: f.intervals[0.8].upper[i],
    lower95: f.intervals[0.95].lower[i],
    upper95: f.intervals[0.95].upper[i],
  };
}

/**
 * The forecast made at least one lag ago for the present moment (what shadowscale_forecast_lagged_load
 * exports, and the anomaly alert compares the load with): of `forecasts`, newest first, the first fitted
 * `lagSeconds` or more before now whose steps still cover now.
 */
export function laggedBand(forecasts: Iterable<{ forecast: ForecastGrid; fittedAt: number }>, nowMs: number, lagSeconds: number): BandAt | undefined {
  for (const f of forecasts) {
    if (nowMs - f.fittedAt < lagSeconds * 1000) continue;
    const band = bandAt(f.forecast, nowMs / 1000);
    if (band) return band;
  }
  return undefined;
}

/** The grid volatilityOf reads: the lag and the window in steps, and the last `points` steps of history it needs. */
export function volatilityGrid(stepSeconds: number, lagSeconds: number): { lagSteps: number; windowSteps: number; points: number } {
  const lagSteps = Math.max(1, Math.round(lagSeconds / stepSeconds));
  const windowSteps = Math.max(lagSteps + 2, Math.round(VOLATILITY_WINDOW_SECONDS / stepSeconds));
  return { lagSteps, windowSteps, points: windowSteps + lagSteps };
}

/**
 * How much the load moves over one provisioning lag, from the last hour of history placed on its step
 * grid (missing samples are gaps). A lag that is not a whole number of steps is scaled as a random walk.
 */
export function volatilityOf(h: { timestamps: ArrayLike<number>; values: ArrayLike<number> }, stepSeconds: number, lagSeconds: number): number | undefined {
  if (h.timestamps.length === 0) return undefined;
  const { lagSteps, windowSteps, points } = volatilityGrid(stepSeconds, lagSeconds);
  const grid = lastOnGrid(h, stepSeconds, points);
  const v = lagVolatility(grid, lagSteps, windowSteps);
  return v === undefined ? undefined : v * Math.sqrt(lagSeconds / (lagSteps * stepSeconds));
}

/**
 * The last `n` steps of a history on its step grid, ending at its newest sample; missing samples are
 * NaN. In `into` when it is long enough (a scratch buffer: the caller uses the grid before it returns).
 */
function lastOnGrid(h: { timestamps: ArrayLike<number>; values: ArrayLike<number> }, stepSeconds: number, n: number, into?: Float64Array): Float64Array {
  const grid = into && into.length >= n ? into.subarray(0, n) : new Float64Array(n);
  grid.fill(NaN);
  const last = h.timestamps[h.timestamps.length - 1];
  for (let i = h.timestamps.length - 1; i >= 0; i--) {
    const k = n - 1 - Math.round((last - h.timestamps[i]) / stepSeconds);
    if (k < 0) break;
    grid[k] = h.values[i];
  }
  return grid;
}

/**
 * Scratch buffers for riseHeadroomOf, which the adapter and the simulator run at every refresh of
 * every workload: grown as needed, never kept across calls (everything here is synchronous).
 */
let gridScratch = new Float64Array(0);
let risesScratch = new Float64Array(0);

/** The load's rises are learned over the last day. */
export const RISE_WINDOW_SECONDS = 86_400;
/** Fewer rises than an hour's worth at a one-minute step: too few to take a quantile of. */
const MIN_RISES = 60;

/**
 * Headroom learned from the workload's own history: the `quantile` of how far the load rose above
 * each point of the last day within the next `reactionSeconds` (the provisioning lag plus how late the
 * adapter sees the load). Heavy-tailed jumps show in it as they happened, where a multiple of a standard
 * deviation assumes a normal spread; a calm load gets little. History on its step grid, missing samples
 * as gaps; undefined with fewer than an hour's worth of rises.
 */
export function riseHeadroomOf(
  h: { timestamps: ArrayLike<number>; values: ArrayLike<number> },
  stepSeconds: number,
  reactionSeconds: number,
  quantile: number,
  windowSeconds = RISE_WINDOW_SECONDS,
): number | undefined {
  if (h.timestamps.length === 0) return undefined;
  const ahead = Math.max(1, Math.ceil(reactionSeconds / stepSeconds - 1e-9));
  const n = Math.max(1, Math.round(windowSeconds / stepSeconds)) + ahead;
  if (gridScratch.length < n) {
    gridScratch = new Float64Array(n);
    risesScratch = new Float64Array(n);
  }
  const grid = lastOnGrid(h, stepSeconds, n, gridScratch);
  // Typed, and selected rather than sorted: the adapter and the simulator run this at every refresh.
  const all = risesScratch;
  let count = 0;
  for (let i = 0; i + ahead < n; i++) {
    if (!Number.isFinite(grid[i])) continue;
    let peak = -Infinity;
    for (let j = i + 1; j <= i + ahead; j++) if (grid[j] > peak) peak = grid[j];
    if (Number.isFinite(peak)) all[count++] = peak - grid[i];
  }
  if (count < MIN_RISES) return undefined;
  return Math.max(0, nthSmallest(all.subarray(0, count), Math.min(count - 1, Math.floor(quantile * count))));
}

/**
 * riseHeadroomOf over a history that only grows at its end, on its step grid (the simulator's copy of
 * the adapter's history, refreshed a step or two at a time): each rise is computed once, when the
 * points after it are known, and kept in order, so a refresh costs its new points rather than a pass
 * over the day. `headroom` answers exactly what riseHeadroomOf answers on the same history.
 */
export class RollingRiseHeadroom {
  private readonly ahead: number;
  /** Grid points the window covers (riseHeadroomOf's `n`). */
  private readonly n: number;
  /** The last n points by grid index modulo n (NaN: missing), and each index's rise (NaN: none). */
  private readonly points: Float64Array;
  private readonly rises: Float64Array;
  /** The rises in the window, ascending. */
  private readonly sorted: number[] = [];
  /** Grid index (time / step) of the newest point; undefined before the first. */
  private newest: number | undefined;

  constructor(
    private readonly stepSeconds: number,
    reactionSeconds: number,
    windowSeconds = RISE_WINDOW_SECONDS,
  ) {
    this.ahead = Math.max(1, Math.ceil(reactionSeconds / stepSeconds - 1e-9));
    this.n = Math.max(1, Math.round(windowSeconds / stepSeconds)) + this.ahead;
    this.points = new Float64Array(this.n).fill(NaN);
    this.rises = new Float64Array(this.n).fill(NaN);
  }

  /** The point at time `t`, later than the last one (steps skipped in between are missing samples). */
  push(t: number, value: number): void {
    const k = Math.round(t / this.stepSeconds);
    if (this.newest !== undefined && k <= this.newest) throw new Error(`RollingRiseHeadroom: point at ${t} s is not after the last one`);
    const from = this.newest === undefined ? k : Math.max(this.newest + 1, k - this.n);
    for (let j = from; j <= k; j++) this.advance(j, j === k ? value : NaN);
  }

  private advance(k: number, value: number): void {
    const n = this.n;
    const slot = ((k % n) + n) % n;
    // The point falling out of the window takes its rise out with it.
    this.remove(this.rises[slot]);
    this.rises[slot] = NaN;
    this.points[slot] = value;
    this.newest = k;
    // The rise of the point `ahead` steps back is known now: the peak of the points after it.
    const i = k - this.ahead;
    const base = this.points[((i % n) + n) % n];
    if (!Number.isFinite(base)) return;
    let peak = -Infinity;
    for (let j = i + 1; j <= k; j++) {
      const v = this.points[((j % n) + n) % n];
      if (v > peak) peak = v;
    }
    if (!Number.isFinite(peak)) return;
    const rise = peak - base;
    this.rises[((i % n) + n) % n] = rise;
    this.sorted.splice(this.lowerBound(rise), 0, rise);
  }

  private remove(rise: number): void {
    if (Number.isNaN(rise)) return;
    this.sorted.splice(this.lowerBound(rise), 1);
  }

  private lowerBound(x: number): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** riseHeadroomOf(history, step, reaction, quantile, window) of the history pushed so far. */
  headroom(quantile: number): number | undefined {
    const count = this.sorted.length;
    if (this.newest === undefined || count < MIN_RISES) return undefined;
    return Math.max(0, this.sorted[Math.min(count - 1, Math.floor(quantile * count))]);
  }
}

/** The k-th smallest value (0-based) of `a`, found in place by selection (Hoare's), in linear time on average. */
function nthSmallest(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k];
}
