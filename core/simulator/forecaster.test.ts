import { describe, expect, it } from 'vitest';
import { PrecomputedFits, plannedFits, plannedScores, ScheduledForecaster, TraceFits, type Score } from './forecaster.ts';
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
