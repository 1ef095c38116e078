import { describe, expect, it } from 'vitest';
import { ScheduledForecaster } from './forecaster.ts';
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
