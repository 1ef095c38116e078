import { describe, expect, it } from 'vitest';
import { backtest, foldOrigins } from './backtest.ts';
import { ForecastInputError } from './types.ts';

describe('foldOrigins', () => {
  it('spreads non-overlapping windows over the second half and ends at the last point', () => {
    const origins = foldOrigins(1000, 10, 5);
    expect(origins[origins.length - 1]).toBe(990);
    expect(origins[0]).toBeGreaterThanOrEqual(500);
    for (let i = 1; i < origins.length; i++) expect(origins[i] - origins[i - 1]).toBeGreaterThanOrEqual(10);
  });

  it('shifts windows a whole cycle apart so they start at different phases', () => {
    const period = 100;
    const origins = foldOrigins(2000, 10, 5, period);
    const phases = new Set(origins.map((o) => o % period));
    expect(phases.size).toBe(5);
  });

  it('refuses a horizon the data cannot hold, saying what to change', () => {
    expect(() => foldOrigins(100, 60, 3)).toThrow(ForecastInputError);
    expect(() => foldOrigins(100, 60, 3)).toThrow(/lower --horizon or --folds/);
  });
});

describe('backtest', () => {
  // A noiseless daily cycle at hourly steps: seasonal-naive is exact, so its scores are known.
  const pattern = Array.from({ length: 24 }, (_, h) => 50 + 30 * Math.sin((2 * Math.PI * h) / 24));
  const y = Float64Array.from({ length: 24 * 20 }, (_, i) => pattern[i % 24]);

  it('scores a perfect model with zero error and full coverage', () => {
    const result = backtest(y, { horizon: 6, folds: 4, models: ['seasonal-naive'], stepSeconds: 3600, startSeconds: 0 });
    const [score] = result.models;
    expect(score.mae).toBe(0);
    expect(score.mase).toBe(0);
    expect(score.smape).toBe(0);
    expect(score.coverage95).toBe(1);
    expect(score.relMae).toBeNull(); // the reference itself has zero error
    expect(result.origins).toHaveLength(4);
  });

  it('computes relMae against seasonal-naive on the same windows and scores auto out of sample', () => {
    const noisy = Float64Array.from(y, (v, i) => v + ((i * 7919) % 13) - 6);
    const result = backtest(noisy, { horizon: 6, folds: 4, models: ['auto', 'ets', 'seasonal-naive'], stepSeconds: 3600, startSeconds: 0 });
    const byModel = Object.fromEntries(result.models.map((m) => [m.model, m]));
    expect(byModel['seasonal-naive'].relMae).toBeCloseTo(1, 12);
    expect(byModel.ets.relMae).toBeCloseTo(byModel.ets.mae / byModel['seasonal-naive'].mae, 12);
    const chosen = Object.values(byModel.auto.chosen ?? {}).reduce((a, b) => a + b, 0);
    expect(chosen).toBe(4);
    expect(['mstl', 'ets', 'seasonal-naive', 'holt-winters', 'moving-median']).toContain(result.selected);
  });

  it('scores only real samples when told which points filled a gap', () => {
    // Points of the last window replaced by a gap filler's straight line: seasonal-naive misses them.
    const filled = Float64Array.from(y);
    const sampled = new Uint8Array(y.length).fill(1);
    for (let i = y.length - 4; i < y.length; i++) {
      filled[i] = 0;
      sampled[i] = 0;
    }
    const options = { horizon: 6, folds: 4, models: ['seasonal-naive'] as const, stepSeconds: 3600, startSeconds: 0 };
    expect(backtest(filled, options).models[0].mae).toBeGreaterThan(0);
    const masked = backtest(filled, { ...options, sampled }).models[0];
    expect(masked.mae).toBe(0);
    expect(masked.coverage95).toBe(1);
    // Nothing real to score: said, not a NaN.
    expect(() => backtest(filled, { ...options, sampled: new Uint8Array(y.length) })).toThrow(/no real sample in the 4 scored windows/);
  });
});
