/**
 * A load trace for the simulator: requests per second on a regular grid, step-held between points.
 */
import { prepareSeries } from '../forecast/prepare.ts';
import type { Series } from '../forecast/types.ts';

export interface Trace {
  /** Unix seconds of values[0]. */
  start: number;
  stepSeconds: number;
  /** Requests per second; each holds until the next point. */
  values: Float64Array;
  /**
   * 1 where the point is a real sample, 0 where a gap was filled (by interpolation, which reads the
   * sample after the gap: the future). Absent: every point is real. Only real points are scored.
   */
  sampled?: Uint8Array;
}

export function traceFromSeries(series: Series, options: { compress?: number; zeroIsMissing?: boolean } = {}): Trace {
  const compress = options.compress ?? 1;
  if (!(compress > 0)) throw new RangeError(`compression factor must be positive, got ${compress}`);
  const prepared = prepareSeries(series, { zeroIsMissing: options.zeroIsMissing });
  // Time compression: a day of the trace passes in 1/compress of a day; the load per second is kept.
  return { start: prepared.start, stepSeconds: prepared.stepSeconds / compress, values: prepared.values, sampled: prepared.sampled };
}

export function traceEnd(trace: Trace): number {
  return trace.start + trace.values.length * trace.stepSeconds;
}

/** Load at time t (step-held); 0 outside the trace. */
export function loadAt(trace: Trace, t: number): number {
  const i = Math.floor((t - trace.start) / trace.stepSeconds);
  return i >= 0 && i < trace.values.length ? trace.values[i] : 0;
}

/** Whether the point that holds at t is a real sample (not a filled gap); false outside the trace. */
export function sampledAt(trace: Trace, t: number): boolean {
  const i = Math.floor((t - trace.start) / trace.stepSeconds);
  return i >= 0 && i < trace.values.length && (trace.sampled === undefined || trace.sampled[i] === 1);
}

/** Highest load over [from, to], step-held. */
export function peakLoad(trace: Trace, from: number, to: number): number {
  const i0 = Math.max(0, Math.floor((from - trace.start) / trace.stepSeconds));
  const i1 = Math.min(trace.values.length - 1, Math.floor((to - trace.start) / trace.stepSeconds));
  let peak = 0;
  for (let i = i0; i <= i1; i++) if (trace.values[i] > peak) peak = trace.values[i];
  return peak;
}

/** Capacity per replica that needs about `replicas` replicas at the trace's 95th percentile. */
export function autoCapacity(trace: Trace, replicas = 20): number {
  const sorted = Float64Array.from(trace.values).sort();
  const p95 = sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))];
  return p95 > 0 ? p95 / replicas : 1;
}
