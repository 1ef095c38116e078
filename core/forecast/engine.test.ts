import { beforeAll, describe, expect, it } from 'vitest';
import { forecast, loadForecastModels } from './engine.ts';
import { seasonalSeries } from './testing.ts';
import { ForecastInputError, MODEL_NAMES, type Forecast, type ModelName } from './types.ts';

beforeAll(async () => {
  await loadForecastModels();
});

// Daily cycle at 5-minute steps: 288 steps a cycle.
const PERIOD = 288;

function expectWellFormed(f: Forecast, horizon: number): void {
  expect(f.point).toHaveLength(horizon);
  for (let h = 0; h < horizon; h++) {
    const values = [f.intervals[0.95].lower[h], f.intervals[0.8].lower[h], f.point[h], f.intervals[0.8].upper[h], f.intervals[0.95].upper[h]];
    for (const v of values) expect(Number.isFinite(v)).toBe(true);
    expect([...values].sort((a, b) => a - b)).toEqual(values);
    expect(values[0]).toBeGreaterThanOrEqual(0);
  }
}

describe('each model on a noisy daily cycle', () => {
  const series = seasonalSeries({ cycles: 7, period: PERIOD, noise: 4, seed: 7 });
  const horizon = 48;
  const n = series.values.length;

  // Models without a seasonal part cannot follow the cycle: they are checked for running on it.
  const acyclic: readonly ModelName[] = ['ets', 'moving-median'];

  it.each(acyclic.map((m) => [m]))('%s, which models no cycle, forecasts it by itself (no fallback) with well-formed bands', (model) => {
    const f = forecast(series, { model: model as ModelName, horizon });
    expectWellFormed(f, horizon);
    expect(f.rung).toBe(model);
    expect(f.fallbackReasons).toEqual([]);
  });

  it.each(MODEL_NAMES.filter((m) => !acyclic.includes(m)).map((m) => [m]))('%s forecasts the next 4 hours within a few noise widths of the truth', (model) => {
    const f = forecast(series, { model: model as ModelName, horizon });
    expectWellFormed(f, horizon);
    expect(f.rung).toBe(model);
    const mae = f.point.reduce((s, p, h) => s + Math.abs(p - series.truth(n + h)), 0) / horizon;
    expect(mae).toBeLessThan(8); // noise sd 4, amplitude 40
    // The 95 % band contains the truth almost everywhere.
    const inside = f.point.filter((_, h) => series.truth(n + h) >= f.intervals[0.95].lower[h] && series.truth(n + h) <= f.intervals[0.95].upper[h]).length;
    expect(inside / horizon).toBeGreaterThanOrEqual(0.9);
  });

  it('starts the forecast one step after the last observation', () => {
    const f = forecast(series, { model: 'seasonal-naive', horizon });
    expect(f.start).toBe(series.timestamps[n - 1] + 300);
    expect(f.stepSeconds).toBe(300);
  });

  it('detects the daily period from the data', () => {
    const f = forecast(series, { model: 'mstl', horizon });
    expect(f.periods).toEqual([PERIOD]);
    expect(f.detail).toBe(`periods=[${PERIOD}]`);
  });
});

describe('seasonal-naive and holt-winters on an exact pattern', () => {
  const pattern = [10, 20, 30, 40, 30, 20, 10, 0];
  const values = Array.from({ length: pattern.length * 6 }, (_, i) => pattern[i % pattern.length]);
  const series = { timestamps: values.map((_, i) => i * 60), values };

  it('seasonal-naive repeats the last cycle, including beyond one period', () => {
    const f = forecast(series, { model: 'seasonal-naive', horizon: 12, periods: [8], cleanOutliers: false });
    expect(f.point).toEqual([...pattern, ...pattern.slice(0, 4)]);
    // No residuals: the band collapses onto the point.
    expect(f.intervals[0.95].upper).toEqual(f.point);
  });

  it('holt-winters reproduces a noiseless cycle', () => {
    const f = forecast(series, { model: 'holt-winters', horizon: 8, periods: [8], cleanOutliers: false });
    f.point.forEach((p, h) => expect(p).toBeCloseTo(pattern[h], 6));
  });
});

describe('the fallback ladder on short history', () => {
  it('falls from MSTL to ETS with fewer than two cycles and says why', () => {
    const series = seasonalSeries({ cycles: 1.5, period: PERIOD, noise: 2 });
    const f = forecast(series, { model: 'mstl', horizon: 12 });
    expect(f.rung).toBe('ets');
    expect(f.fallbackReasons).toEqual(['mstl: no seasonal period with two full cycles in the history']);
    expectWellFormed(f, 12);
  });

  it('drops a given period that has less than two cycles and says so', () => {
    const series = seasonalSeries({ cycles: 3, period: PERIOD });
    const f = forecast(series, { model: 'mstl', horizon: 12, periods: [PERIOD, PERIOD * 7] });
    expect(f.rung).toBe('mstl');
    expect(f.detail).toBe(`periods=[${PERIOD}]`);
    expect(f.warnings).toContain(`period ${PERIOD * 7} dropped: history of ${3 * PERIOD} steps holds less than two cycles`);
  });

  it('answers two points with a naive forecast and a zero-width band', () => {
    const f = forecast({ timestamps: [0, 60], values: [5, 7] }, { model: 'mstl', horizon: 3 });
    expect(f.rung).toBe('naive');
    expect(f.point).toEqual([7, 7, 7]);
    expect(f.fallbackReasons.map((r) => r.split(':')[0])).toEqual(['mstl', 'ets']);
    expect(f.warnings).toContain('only 2 points: band width is not estimable');
  });

  it('answers a single point with that point', () => {
    const f = forecast({ timestamps: [100], values: [3] }, { model: 'auto', horizon: 2 });
    expect(f.rung).toBe('naive');
    expect(f.point).toEqual([3, 3]);
    expect(f.intervals[0.95]).toEqual({ lower: [3, 3], upper: [3, 3] });
  });
});

describe('robust to what Prometheus returns', () => {
  const base = seasonalSeries({ cycles: 4, period: PERIOD, noise: 2 });

  it('rejects an empty series with a clear error', () => {
    expect(() => forecast({ timestamps: [], values: [] }, { horizon: 3 })).toThrow(new ForecastInputError('series has no samples'));
  });

  it('rejects a series with nothing valid in it, saying what it found', () => {
    expect(() => forecast({ timestamps: [0, 60, 120], values: [NaN, Infinity, -1] }, { horizon: 3 })).toThrow(
      'series has 3 samples but none is a finite, non-negative number (2 NaN/Inf, 1 negative)',
    );
  });

  it('rejects a horizon that is not a positive integer', () => {
    expect(() => forecast(base, { horizon: 0 })).toThrow(ForecastInputError);
    expect(() => forecast(base, { horizon: 2.5 })).toThrow('horizon must be a positive integer');
  });

  it('imputes gaps and reports them', () => {
    const keep = base.timestamps.map((_, i) => i < 500 || i >= 530);
    const series = { timestamps: base.timestamps.filter((_, i) => keep[i]), values: base.values.filter((_, i) => keep[i]) };
    const f = forecast(series, { model: 'mstl', horizon: 24 });
    expect(f.rung).toBe('mstl');
    expect(f.warnings).toContain('imputed 30 missing steps by linear interpolation (longest gap 30 steps)');
    expectWellFormed(f, 24);
  });

  it('drops NaN, +Inf and the negative values of a counter reset, and counts them', () => {
    const values = [...base.values];
    values[100] = NaN;
    values[200] = Infinity;
    values[300] = -Infinity;
    values[400] = -55; // rate over a counter reset computed without reset handling
    const f = forecast({ timestamps: base.timestamps, values }, { model: 'mstl', horizon: 24 });
    expect(f.warnings).toContain('dropped 3 NaN/Inf samples');
    expect(f.warnings).toContain('dropped 1 negative samples (counter-reset artefacts)');
    expectWellFormed(f, 24);
  });

  it('puts irregular timestamps on the median-step grid', () => {
    const jittered = base.timestamps.map((t, i) => t + ((i * 37) % 41) - 20);
    const f = forecast({ timestamps: jittered, values: base.values }, { model: 'seasonal-naive', horizon: 24 });
    expect(f.stepSeconds).toBeGreaterThan(280);
    expect(f.stepSeconds).toBeLessThan(320);
    expectWellFormed(f, 24);
  });

  it('sorts timestamps that arrive out of order', () => {
    const order = base.timestamps.map((_, i) => i).reverse();
    const f1 = forecast({ timestamps: order.map((i) => base.timestamps[i]), values: order.map((i) => base.values[i]) }, { model: 'seasonal-naive', horizon: 6 });
    const f2 = forecast(base, { model: 'seasonal-naive', horizon: 6 });
    expect(f1.point).toEqual(f2.point);
  });

  it.each(MODEL_NAMES.map((m) => [m]))('%s on a constant series forecasts the constant', (model) => {
    const values = new Array(3 * PERIOD).fill(42);
    const f = forecast({ timestamps: values.map((_, i) => i * 300), values }, { model: model as ModelName, horizon: 12 });
    expectWellFormed(f, 12);
    f.point.forEach((p) => expect(p).toBeCloseTo(42, 4));
  });

  it.each(MODEL_NAMES.map((m) => [m]))('%s on a series of zeros forecasts zeros', (model) => {
    const values = new Array(3 * PERIOD).fill(0);
    const f = forecast({ timestamps: values.map((_, i) => i * 300), values }, { model: model as ModelName, horizon: 12 });
    expectWellFormed(f, 12);
    f.point.forEach((p) => expect(p).toBeCloseTo(0, 6));
  });
});

describe('auto', () => {
  it('chooses a seasonal model on a seasonal series and says which', () => {
    const series = seasonalSeries({ cycles: 6, period: PERIOD, noise: 3 });
    const f = forecast(series, { model: 'auto', horizon: 24 });
    expect(f.model).toBe('auto');
    expect(['mstl', 'seasonal-naive', 'holt-winters']).toContain(f.rung);
    expect(f.detail).toMatch(new RegExp(`^auto chose ${f.rung}`));
  });

  it('falls back to its first candidate when the history is too short to backtest', () => {
    const values = Array.from({ length: 30 }, (_, i) => 10 + (i % 3));
    const f = forecast({ timestamps: values.map((_, i) => i * 60), values }, { model: 'auto', horizon: 20 });
    expect(f.fallbackReasons[0]).toMatch(/^auto: history too short to backtest/);
    expectWellFormed(f, 20);
  });
});
