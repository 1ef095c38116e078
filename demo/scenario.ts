/**
 * The demo's scenario: a real trace replayed in compressed time (`speed` trace seconds per wall
 * second, so a day passes in minutes), scaled to a request rate one machine can serve, with an
 * injected surge and a passing degradation of the primary. Pure: wall time in, request rate out;
 * and the history before the demo's start, as Prometheus would have recorded it, for the backfill.
 */
import type { Series } from '../core/forecast/types.ts';

export interface ScenarioOptions {
  /** Trace seconds per wall second (144: a day in 10 minutes). */
  speed: number;
  /** Wall seconds the demo runs. */
  durationSeconds: number;
  /** Trace days replayed as history before the start (backfilled into Prometheus). */
  historyDays: number;
  /** Requests per second at the busiest minute of the history and replay (before the surge). */
  peakRps: number;
  /** The surge: load multiplied by `factor`, ramping up from `at` over `rampSeconds`, held `holdSeconds` (wall). */
  surge: { factor: number; at: number; rampSeconds: number; holdSeconds: number };
  /** The primary's passing trouble: from `at`, for `seconds` (wall). */
  degrade: { at: number; seconds: number };
}

export interface Scenario extends ScenarioOptions {
  /** Trace time (unix s) of the demo's start: the replay begins here, the history ends here. */
  traceStart: number;
  /** Requests per second per trace unit (requests per trace step). */
  scale: number;
  /** The trace's step, seconds. */
  traceStep: number;
  series: Series;
}

export class ScenarioError extends Error {}

export function scenario(series: Series, options: ScenarioOptions): Scenario {
  const n = series.timestamps.length;
  if (n < 3) throw new ScenarioError('the trace needs at least 3 points');
  const traceStep = series.timestamps[1] - series.timestamps[0];
  const traceStart = series.timestamps[0] + options.historyDays * 86_400;
  const traceEnd = traceStart + options.durationSeconds * options.speed;
  if (traceEnd > series.timestamps[n - 1]) {
    const days = (series.timestamps[n - 1] - series.timestamps[0]) / 86_400;
    throw new ScenarioError(`the trace holds ${days.toFixed(1)} days: not enough for ${options.historyDays} days of history and ${((options.durationSeconds * options.speed) / 86_400).toFixed(2)} days of replay (lower --duration or --speed)`);
  }
  let peak = 0;
  for (let i = 0; i < n && series.timestamps[i] <= traceEnd; i++) if (Number.isFinite(series.values[i])) peak = Math.max(peak, series.values[i]);
  if (!(peak > 0)) throw new ScenarioError('the trace has no load');
  return { ...options, traceStart, scale: options.peakRps / peak, traceStep, series };
}

/** The trace's value at trace time t (linear between points; missing points are skipped over). */
export function traceValue(s: Scenario, t: number): number {
  const ts = s.series.timestamps;
  const i = Math.min(ts.length - 2, Math.max(0, Math.floor((t - ts[0]) / s.traceStep)));
  const a = s.series.values[i];
  const b = s.series.values[i + 1];
  const f = Math.min(1, Math.max(0, (t - ts[i]) / s.traceStep));
  if (!Number.isFinite(a)) return Number.isFinite(b) ? b : 0;
  if (!Number.isFinite(b)) return a;
  return a + (b - a) * f;
}

/** The surge's multiplier at wall second `t` since the start. */
export function surgeFactor(s: Scenario, t: number): number {
  const { factor, at, rampSeconds, holdSeconds } = s.surge;
  if (factor <= 1 || t < at) return 1;
  if (t < at + rampSeconds) return 1 + ((factor - 1) * (t - at)) / rampSeconds;
  if (t < at + rampSeconds + holdSeconds) return factor;
  if (t < at + 2 * rampSeconds + holdSeconds) return factor - ((factor - 1) * (t - at - rampSeconds - holdSeconds)) / rampSeconds;
  return 1;
}

/** When the surge peaks (wall seconds since the start). */
export function surgePeak(s: Scenario): number {
  return s.surge.at + s.surge.rampSeconds;
}

/** Offered requests per second at wall second `t` since the start (negative t: the history). */
export function rpsAt(s: Scenario, t: number): number {
  return traceValue(s, s.traceStart + t * s.speed) * s.scale * (t >= 0 ? surgeFactor(s, t) : 1);
}

/** The trace time shown for wall second `t`. */
export function traceTimeAt(s: Scenario, t: number): Date {
  return new Date((s.traceStart + t * s.speed) * 1000);
}

/**
 * The history Prometheus would hold at the start: the offered-requests counter sampled every
 * `stepSeconds` of wall time over `historyDays` compressed days, ending `endWall` (unix s).
 */
export function historyCounter(s: Scenario, endWall: number, stepSeconds = 1): { timestamps: number[]; values: number[]; rates: number[] } {
  const span = (s.historyDays * 86_400) / s.speed;
  const count = Math.floor(span / stepSeconds);
  const timestamps: number[] = [];
  const values: number[] = [];
  const rates: number[] = [];
  let total = 0;
  for (let k = count; k >= 1; k--) {
    const t = -k * stepSeconds;
    const rate = rpsAt(s, t);
    total += rate * stepSeconds;
    timestamps.push(endWall + t);
    values.push(total);
    rates.push(rate);
  }
  return { timestamps, values, rates };
}
