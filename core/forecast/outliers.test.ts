import { describe, expect, it } from 'vitest';
import { loadFixture, NASA_TWO_WEEKS } from '../../test/harness/fixtures.ts';
import { forecast } from './engine.ts';
import { cleanOutlierCycles } from './outliers.ts';
import { detectPeriods } from './seasonality.ts';
import { mulberry32 } from './testing.ts';

const DAY = 1440;
const nasa = loadFixture(NASA_TWO_WEEKS);

describe('seasonality detection', () => {
  it('finds the daily cycle of real HTTP traffic', () => {
    const periods = detectPeriods(Float64Array.from(nasa.values.slice(0, 7 * DAY)), 60).map((p) => p.period);
    expect(periods).toContain(DAY);
    expect(periods).not.toContain(60);
  });

  it('finds nothing in white noise', () => {
    const random = mulberry32(3);
    const noise = Float64Array.from({ length: 4 * DAY }, () => random());
    expect(detectPeriods(noise, 60)).toEqual([]);
  });
});

describe('anomalous cycles in history', () => {
  // Eight real days; day 7 (yesterday, seen from the forecast) is scaled ×4, as an incident would.
  const days = 8;
  const clean = nasa.values.slice(0, days * DAY);
  const bad = clean.map((v, i) => (i >= 7 * DAY && i < 7.9 * DAY ? v * 4 : v));
  const actual = nasa.values.slice(days * DAY, days * DAY + 240);

  it('flags the bad day and only it', () => {
    const result = cleanOutlierCycles(Float64Array.from(bad), DAY);
    expect(result.cycles).toEqual([7]);
    expect(result.replaced).toBeGreaterThan(0);
    expect(cleanOutlierCycles(Float64Array.from(clean), DAY).cycles).toEqual([]);
  });

  it('keeps a bad yesterday out of tomorrow: the cleaned forecast is closer to what happened', () => {
    const series = { timestamps: nasa.timestamps.slice(0, days * DAY), values: bad };
    const mae = (point: number[]) => point.reduce((s, p, h) => s + Math.abs(p - actual[h]), 0) / point.length;
    const withCleaning = forecast(series, { model: 'seasonal-naive', horizon: 240, periods: [DAY] });
    const without = forecast(series, { model: 'seasonal-naive', horizon: 240, periods: [DAY], cleanOutliers: false });
    expect(withCleaning.warnings.some((w) => w.startsWith('replaced'))).toBe(true);
    expect(mae(withCleaning.point)).toBeLessThan(0.6 * mae(without.point));
  });
});
