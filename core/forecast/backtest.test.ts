import { describe, expect, it } from 'vitest';
import { backtest, foldOrigins, largestRises, LAG_RESCORE } from './backtest.ts';
import { fitWithLadder, prepareHistory } from './ladder.ts';
import { DEFAULT_AUTO_CANDIDATES, ForecastInputError } from './types.ts';

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

describe('largestRises', () => {
  it('finds the largest rises over the horizon in the second half, apart from each other and from the folds', () => {
    const y = new Float64Array(100).fill(10);
    y[20] = 100; // first half: never a window
    y[60] = 50;
    y[61] = 60; // one ramp: a single window, at its larger step
    y[80] = 30;
    y[90] = 40; // next to a fold
    // A window that starts a step before a jump holds it too: of equal rises, the earlier origin.
    expect(largestRises(y, 2, 5, [])).toEqual([60, 89, 79]);
    expect(largestRises(y, 2, 2, [])).toEqual([60, 89]);
    expect(largestRises(y, 2, 5, [91])).toEqual([60, 79]);
    // A rise seen only across a filled gap counts only by its real samples.
    const sampled = new Uint8Array(100).fill(1);
    sampled[60] = sampled[61] = 0;
    expect(largestRises(y, 2, 5, [], sampled)).toEqual([89, 79]);
    expect(largestRises(new Float64Array(100).fill(10), 2, 5, [])).toEqual([]);
  });
});

describe("the adapter's rescore (LAG_RESCORE)", () => {
  // 3 days at 5-minute steps, flat 40 with noise and a jump to 80 for half an hour at the same time
  // every day; the history ends a step before the next jump. At a lag's horizon the six even windows
  // mostly fall beside the jump, where a model that smooths the noise scores best.
  const step = 300;
  function dailyJump(hour: number): Float64Array {
    let seed = hour + 1;
    const noise = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 4;
    const n = (3 * 86400) / step + (hour * 3600) / step - 1;
    return Float64Array.from({ length: n }, (_, i) => {
      const h = ((i * step) % 86400) / 3600;
      return (h >= hour && h < hour + 0.5 ? 80 : 40) + noise();
    });
  }
  const rescore = (y: Float64Array, riseWindows: number) =>
    backtest(y, { horizon: 1, ...LAG_RESCORE, riseWindows, models: DEFAULT_AUTO_CANDIDATES, autoCandidates: DEFAULT_AUTO_CANDIDATES, stepSeconds: step, startSeconds: 0 });
  const foresees = (y: Float64Array, model: (typeof DEFAULT_AUTO_CANDIDATES)[number]) =>
    Math.max(...fitWithLadder(prepareHistory(y, { horizon: 2, stepSeconds: step, startSeconds: 0 }), model, 2).point) > 60;

  it("chooses a model that foresees a daily jump it has seen, where the even windows alone choose one that does not", () => {
    // Jump hours where the six even windows alone choose ets or moving-median (flat at the jump).
    for (const hour of [0, 7, 14, 22]) {
      const y = dailyJump(hour);
      const even = rescore(y, 0);
      const withRises = rescore(y, LAG_RESCORE.riseWindows);
      expect(foresees(y, even.selected), `${hour}:00, even windows: ${even.selected}`).toBe(false);
      expect(foresees(y, withRises.selected), `${hour}:00, with rise windows: ${withRises.selected}`).toBe(true);
      expect(withRises.riseOrigins).toHaveLength(LAG_RESCORE.riseWindows);
      // The rise windows choose; they are not scored: every score is that of the even windows.
      expect(withRises.models).toEqual(even.models.map((m) => ({ ...m, fitMs: expect.any(Number) })));
    }
  }, 60_000);
});
