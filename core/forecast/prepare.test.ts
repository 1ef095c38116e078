import { describe, expect, it } from 'vitest';
import { prepareSeries } from './prepare.ts';

describe('prepareSeries', () => {
  it('averages samples that land on the same grid point', () => {
    const p = prepareSeries({ timestamps: [0, 59, 61, 120], values: [1, 2, 4, 5] }, { stepSeconds: 60 });
    expect(Array.from(p.values)).toEqual([1, 3, 5]);
  });

  it('trims missing points at both ends instead of inventing them', () => {
    const p = prepareSeries({ timestamps: [0, 60, 120, 180, 240], values: [NaN, 2, 3, 4, NaN] });
    expect(Array.from(p.values)).toEqual([2, 3, 4]);
    expect(p.start).toBe(60);
    expect(p.warnings).toContain('last 1 steps had no valid sample; forecast starts after the last valid one');
  });

  it('keeps the most recent maxPoints steps', () => {
    const p = prepareSeries({ timestamps: [0, 60, 120, 180], values: [1, 2, 3, 4] }, { maxPoints: 2 });
    expect(Array.from(p.values)).toEqual([3, 4]);
    expect(p.start).toBe(120);
  });

  it('reads zeros as gaps only when told to', () => {
    const series = { timestamps: [0, 60, 120, 180], values: [10, 0, 0, 40] };
    expect(Array.from(prepareSeries(series).values)).toEqual([10, 0, 0, 40]);
    const p = prepareSeries(series, { zeroIsMissing: true });
    expect(Array.from(p.values)).toEqual([10, 20, 30, 40]);
    expect(p.warnings).toContain('read 2 zero samples as missing');
  });

  it('refuses timestamps that would make an absurd grid, naming the likely cause', () => {
    expect(() => prepareSeries({ timestamps: [0, 1, 2, 1e9], values: [1, 2, 3, 4] })).toThrow(/are the timestamps in seconds\?/);
  });

  it('refuses mismatched arrays', () => {
    expect(() => prepareSeries({ timestamps: [0, 1], values: [1] })).toThrow('series has 2 timestamps but 1 values');
  });
});
