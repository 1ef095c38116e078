/**
 * Helpers for prediction intervals built from a model's own residuals.
 *
 * Load residuals are heavy-tailed (bursts), so the baselines use empirical quantiles of the absolute
 * one-step residuals rather than a normal approximation, and widen them with the horizon by the
 * model's own variance multiplier.
 */
import { LEVELS, type Band, type Level } from './types.ts';

/** Quantile q of the absolute values of the finite residuals; 0 when there are none. */
export function absQuantile(residuals: ArrayLike<number>, q: number): number {
  const a: number[] = [];
  for (let i = 0; i < residuals.length; i++) {
    const r = residuals[i];
    if (Number.isFinite(r)) a.push(Math.abs(r));
  }
  a.sort((x, y) => x - y);
  return sortedQuantile(a, q);
}

/** Quantile q of ascending values, interpolated linearly between the two nearest; 0 when there are none. */
export function sortedQuantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Bands around `point`: at each step h the half-width is the residual quantile for the level times
 * `spread[h]` (the ratio of the h-step to the one-step standard deviation).
 */
export function residualBands(point: number[], residuals: ArrayLike<number>, spread: number[]): Record<Level, Band> {
  const bands = {} as Record<Level, Band>;
  for (const level of LEVELS) {
    const half = absQuantile(residuals, level);
    bands[level] = {
      lower: point.map((p, h) => p - half * spread[h]),
      upper: point.map((p, h) => p + half * spread[h]),
    };
  }
  return bands;
}

/** Two-sided standard-normal quantile for the central levels we use. */
export const Z: Record<Level, number> = { 0.8: 1.2815515655446004, 0.95: 1.959963984540054 };
