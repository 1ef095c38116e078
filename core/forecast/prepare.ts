/**
 * Turns what Prometheus (or a CSV) gives us into what the models need: a regular, gap-free grid of
 * finite, non-negative values. Every repair is counted in `warnings`, so a user can see how much of
 * the forecast rests on imputed data.
 */
import { ForecastInputError, type Series } from './types.ts';

export interface PreparedSeries {
  values: Float64Array;
  /** Unix seconds of values[0]. */
  start: number;
  stepSeconds: number;
  /** 1 where the point holds a real sample, 0 where it was imputed (a gap filled). */
  sampled: Uint8Array;
  warnings: string[];
}

export interface PrepareOptions {
  /** Grid step; by default the median spacing of the timestamps. */
  stepSeconds?: number;
  /** Keep at most this many most recent steps (the fitted history window). */
  maxPoints?: number;
  /**
   * Read exact zeros as "no sample". For sources that write 0 where they had no data (some exported
   * traces do); Prometheus itself returns no sample instead, so this is off by default.
   */
  zeroIsMissing?: boolean;
}

/** Refuse grids that would allocate absurd amounts (e.g. millisecond timestamps read as seconds). */
const MAX_GRID_POINTS = 5_000_000;

export function prepareSeries(series: Series, options: PrepareOptions = {}): PreparedSeries {
  const { timestamps, values } = series;
  if (timestamps.length !== values.length) {
    throw new ForecastInputError(
      `series has ${timestamps.length} timestamps but ${values.length} values; they must pair up`,
    );
  }
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < timestamps.length; i++) {
    if (Number.isFinite(timestamps[i])) pairs.push([timestamps[i], values[i]]);
  }
  if (pairs.length === 0) throw new ForecastInputError('series has no samples');
  pairs.sort((a, b) => a[0] - b[0]);

  const step = options.stepSeconds ?? medianSpacing(pairs) ?? 60;
  if (!(step > 0)) throw new ForecastInputError(`step must be positive, got ${step}`);
  const t0 = pairs[0][0];
  const gridLength = Math.round((pairs[pairs.length - 1][0] - t0) / step) + 1;
  if (gridLength > MAX_GRID_POINTS) {
    throw new ForecastInputError(
      `series spans ${gridLength} steps of ${step}s (more than ${MAX_GRID_POINTS}); are the timestamps in seconds?`,
    );
  }

  // Irregular timestamps land on the nearest grid point; several samples on one point are averaged.
  const sum = new Float64Array(gridLength);
  const count = new Uint32Array(gridLength);
  let nonFinite = 0;
  let negative = 0;
  let zeros = 0;
  for (const [t, v] of pairs) {
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    // Load is never negative; a negative rate is a counter-reset artefact (delta/deriv over a reset).
    if (v < 0) {
      negative++;
      continue;
    }
    if (v === 0 && options.zeroIsMissing) {
      zeros++;
      continue;
    }
    const i = Math.round((t - t0) / step);
    sum[i] += v;
    count[i]++;
  }

  let first = -1;
  let last = -1;
  for (let i = 0; i < gridLength; i++) {
    if (count[i] > 0) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) {
    throw new ForecastInputError(
      `series has ${pairs.length} samples but none is a finite, non-negative number (${nonFinite} NaN/Inf, ${negative} negative${options.zeroIsMissing ? `, ${zeros} zero` : ''})`,
    );
  }

  // Leading and trailing missing points are trimmed, not invented: the forecast starts after the
  // last real observation.
  let from = first;
  if (options.maxPoints !== undefined && last - first + 1 > options.maxPoints) {
    from = last - options.maxPoints + 1;
  }
  const out = new Float64Array(last - from + 1);
  const sampled = new Uint8Array(out.length);
  let imputed = 0;
  let longestGap = 0;
  let prevIndex = -1;
  for (let i = from; i <= last; i++) {
    const k = i - from;
    if (count[i] > 0) {
      const v = sum[i] / count[i];
      out[k] = v;
      sampled[k] = 1;
      if (prevIndex >= 0 && k - prevIndex > 1) {
        // Linear interpolation across the gap (prevIndex, k).
        const a = out[prevIndex];
        const gap = k - prevIndex;
        for (let j = 1; j < gap; j++) out[prevIndex + j] = a + ((v - a) * j) / gap;
        imputed += gap - 1;
        longestGap = Math.max(longestGap, gap - 1);
      } else if (prevIndex < 0 && k > 0) {
        // The window cut into a gap: hold the first value backwards.
        for (let j = 0; j < k; j++) out[j] = v;
        imputed += k;
        longestGap = Math.max(longestGap, k);
      }
      prevIndex = k;
    }
  }

  const warnings: string[] = [];
  if (nonFinite > 0) warnings.push(`dropped ${nonFinite} NaN/Inf samples`);
  if (negative > 0) warnings.push(`dropped ${negative} negative samples (counter-reset artefacts)`);
  if (zeros > 0) warnings.push(`read ${zeros} zero samples as missing`);
  if (imputed > 0) {
    warnings.push(`imputed ${imputed} missing steps by linear interpolation (longest gap ${longestGap} steps)`);
  }
  const trailing = gridLength - 1 - last;
  if (trailing > 0) warnings.push(`last ${trailing} steps had no valid sample; forecast starts after the last valid one`);

  return { values: out, start: t0 + from * step, stepSeconds: step, sampled, warnings };
}

function medianSpacing(pairs: Array<[number, number]>): number | undefined {
  const diffs: number[] = [];
  for (let i = 1; i < pairs.length; i++) {
    const d = pairs[i][0] - pairs[i - 1][0];
    if (d > 0) diffs.push(d);
  }
  if (diffs.length === 0) return undefined;
  diffs.sort((a, b) => a - b);
  return diffs[Math.floor(diffs.length / 2)];
}
