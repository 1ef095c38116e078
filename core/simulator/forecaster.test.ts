import { describe, expect, it } from 'vitest';
import { DEFAULT_AUTO_CANDIDATES } from '../forecast/types.ts';
import { hindsightLoss, PrecomputedFits, plannedFits, plannedScores, ScheduledForecaster, TraceFits, type Score } from './forecaster.ts';
import type { Trace } from './trace.ts';

const spec = { model: 'seasonal-naive' as const, fitStepSeconds: 300, historySeconds: 3 * 86_400, refitSeconds: 3600, rescoreSeconds: 86_400, lagSeconds: 120 };

describe('ScheduledForecaster', () => {
  it('fits a trace coarser than the fit step at its own step, on its own clock', () => {
    // Every 30 minutes for 6 days: a daily pattern (48 points a day), each point held for 30 minutes.
    const values = Float64Array.from({ length: 6 * 48 }, (_, i) => 100 + 50 * Math.sin((2 * Math.PI * (i % 48)) / 48));
    const trace: Trace = { start: 0, stepSeconds: 1800, values };
    const now = 5 * 86_400 + 7 * 1800 + 600;
    const f = new ScheduledForecaster(trace, spec).at(now)!;
    expect(f.stepSeconds).toBe(1800);
    // The history ends with the last whole point before now, and so the forecast begins there.
    expect(f.start).toBe(Math.floor(now / 1800) * 1800);
    // The seasonal naive repeats the point a day earlier.
    for (let h = 0; h < 3; h++) expect(f.point[h]).toBeCloseTo(values[(f.start - 86_400) / 1800 + h], 9);
  });

  it('averages a finer trace over each fit step', () => {
    const values = Float64Array.from({ length: 4 * 1440 }, (_, i) => (i % 5) * 10);
    const trace: Trace = { start: 0, stepSeconds: 60, values };
    const now = 3 * 86_400 + 1234;
    const f = new ScheduledForecaster(trace, spec).at(now)!;
    expect(f.start).toBe(Math.floor(now / 300) * 300);
    // Each 5-minute bucket's mean is 20: so is the forecast.
    expect(f.point[0]).toBeCloseTo(20, 9);
  });
});

describe('forecasts computed ahead', () => {
  const values = Float64Array.from({ length: 5 * 48 }, (_, i) => 100 + 50 * Math.sin((2 * Math.PI * (i % 48)) / 48) + (i % 7));
  const trace: Trace = { start: 0, stepSeconds: 1800, values };
  const asks = Array.from({ length: 2 * 24 * 4 }, (_, i) => 3 * 86_400 + i * 900);

  it('are the backtests and fits the forecaster makes, and replay to the same forecasts', () => {
    const fits = new TraceFits(trace, spec);
    const scoreAts = plannedScores(trace, spec, asks);
    // One backtest a day, at the first ask and a day later; a refit every hour.
    expect(scoreAts).toEqual([3 * 86_400, 4 * 86_400]);
    const scores = scoreAts.map((at): [number, Score] => [at, fits.score(at)]);
    const requests = plannedFits(trace, spec, asks, scores);
    expect(requests.length).toBe(48);
    const ahead = new ScheduledForecaster(trace, spec, new PrecomputedFits({ key: 'k', scores, fits: requests.map(([at, m]) => [at, m, fits.fit(at, m)]) }));
    const live = new ScheduledForecaster(trace, spec);
    for (const now of asks) expect(ahead.at(now)).toEqual(live.at(now));
    expect(ahead.trusted).toBe(live.trusted);
    expect(ahead.fits).toBe(48);
  });

  it('refuse to be asked at other times, naming the forecaster and the time', () => {
    const fits = new TraceFits(trace, spec);
    const scores: Array<[number, Score]> = [[3 * 86_400, fits.score(3 * 86_400)]];
    const ahead = new ScheduledForecaster(trace, spec, new PrecomputedFits({ key: 'nasa/auto', scores, fits: [] }));
    expect(() => ahead.at(3 * 86_400 + 60)).toThrow(/no backtest was computed ahead at 259260 for forecaster nasa\/auto/);
  });
});

describe('the hindsight forecaster (a bound for reading, never the product)', () => {
  // Four days of 5-minute points: a daily wave, a jump every day at 18:00 for 30 minutes, and noise.
  const values = Float64Array.from({ length: 4 * 288 }, (_, i) => {
    const minute = (i % 288) * 5;
    return 100 + 40 * Math.sin((2 * Math.PI * minute) / 1440) + (minute >= 1080 && minute < 1110 ? 80 : 0) + ((i * 7919) % 13);
  });
  const trace: Trace = { start: 0, stepSeconds: 300, values };
  const base = { fitStepSeconds: 300, historySeconds: 3 * 86_400, refitSeconds: 3600, rescoreSeconds: 6 * 3600, lagSeconds: 600 };
  const asks = Array.from({ length: 12 * 4 }, (_, i) => 3 * 86_400 + 8 * 3600 + i * 900);

  it('keeps at each refit the candidate with the smallest peak error until the next one, known afterwards', () => {
    const hindsight = new ScheduledForecaster(trace, { ...base, model: 'auto', hindsight: true });
    const fixed = DEFAULT_AUTO_CANDIDATES.map((model) => new ScheduledForecaster(trace, { ...base, model }));
    let refits = 0;
    const chosen = new Set<number>();
    for (const now of asks) {
      const before = hindsight.fits;
      const f = hindsight.at(now)!;
      const each = fixed.map((x) => x.at(now)!);
      if (hindsight.fits === before) continue;
      refits++;
      const loss = (g: typeof f) => hindsightLoss(trace, g, now, now + base.refitSeconds, base.lagSeconds);
      const losses = each.map(loss);
      expect(loss(f)).toBe(Math.min(...losses));
      chosen.add(losses.indexOf(loss(f)));
    }
    expect(refits).toBe(12);
    // Not one candidate kept throughout: the choice follows the errors.
    expect(chosen.size).toBeGreaterThan(1);
  });

  it('scores only real samples, and the distance of the forecast\'s peak over each lag from the true one', () => {
    const flat: Trace = { start: 0, stepSeconds: 60, values: Float64Array.from([10, 10, 30, 10, 10, 10]), sampled: Uint8Array.from([1, 1, 1, 1, 0, 1]) };
    const forecast = { start: 0, stepSeconds: 60, point: [10, 10, 10, 10, 10, 10], intervals: {} as never };
    // Lag of 60 s: the windows from 60 and 120 s hold the 30 at 120 s (error 20 each), those from 0 and
    // 180 s do not; the one from 240 s starts on a filled gap and is not scored.
    expect(hindsightLoss(flat, forecast, 0, 300, 60)).toBeCloseTo((0 + 20 + 20 + 0) / 4, 9);
    expect(hindsightLoss(flat, { ...forecast, point: [10, 30, 30, 10, 10, 10] }, 0, 300, 60)).toBeCloseTo((20 + 0 + 0 + 0) / 4, 9);
  });

  it('has a fit key of its own: its forecasts are never replayed as the product\'s', () => {
    expect(ScheduledForecaster.fitKey(trace, { ...base, model: 'auto', hindsight: true })).not.toBe(ScheduledForecaster.fitKey(trace, { ...base, model: 'auto' }));
  });
});
