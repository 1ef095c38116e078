import { describe, expect, it } from 'vitest';
import { forecast } from '../engine.ts';
import { slidingMedians } from './moving-median.ts';
import { mulberry32 } from '../testing.ts';
import type { Series } from '../types.ts';

/** A host's utilisation: a level, noise, and short spikes of several times the noise (1 % of steps by default). */
function spikyLevel(n: number, seed: number, level = (_i: number) => 40, spikes = 0.01): Series {
  const random = mulberry32(seed);
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    const spike = random() < spikes ? 30 + 30 * random() : 0;
    values.push(level(i) + 6 * (random() - 0.5) + spike);
  }
  return { timestamps: values.map((_, i) => 1_700_000_000 + i * 300), values };
}

const at = (s: Series, n: number): Series => ({ timestamps: s.timestamps.slice(0, n), values: s.values.slice(0, n) });

describe('moving-median', () => {
  it('forecasts a noisy, spiky level better than the last value, from a window longer than one step', () => {
    const s = spikyLevel(3000, 3);
    const horizon = 12;
    let medianError = 0;
    let naiveError = 0;
    let windows = 0;
    for (let origin = 1500; origin + horizon <= 3000; origin += 50) {
      const past = at(s, origin);
      const f = forecast(past, { model: 'moving-median', horizon, cleanOutliers: false });
      expect(f.rung).toBe('moving-median');
      expect(Number(/window=(\d+)/.exec(f.detail ?? '')?.[1])).toBeGreaterThan(1);
      for (let h = 0; h < horizon; h++) {
        medianError += Math.abs(s.values[origin + h] - f.point[h]);
        naiveError += Math.abs(s.values[origin + h] - past.values[origin - 1]);
      }
      windows++;
    }
    expect(windows).toBeGreaterThan(20);
    expect(medianError / naiveError).toBeLessThan(0.8);
  });

  it('gives bands that hold about their share of what follows, and wider above than below (spikes go up)', () => {
    const s = spikyLevel(6000, 11, () => 40, 0.04);
    const horizon = 12;
    let inside95 = 0;
    let inside80 = 0;
    let count = 0;
    for (let origin = 2000; origin + horizon <= 6000; origin += 97) {
      const f = forecast(at(s, origin), { model: 'moving-median', horizon, cleanOutliers: false });
      for (let h = 0; h < horizon; h++) {
        const v = s.values[origin + h];
        if (v >= f.intervals[0.95].lower[h] && v <= f.intervals[0.95].upper[h]) inside95++;
        if (v >= f.intervals[0.8].lower[h] && v <= f.intervals[0.8].upper[h]) inside80++;
        count++;
      }
      expect(f.intervals[0.95].upper[0] - f.point[0]).toBeGreaterThan(f.point[0] - f.intervals[0.95].lower[0]);
    }
    expect(inside95 / count).toBeGreaterThan(0.92);
    expect(inside95 / count).toBeLessThan(0.99);
    expect(inside80 / count).toBeGreaterThan(0.72);
    expect(inside80 / count).toBeLessThan(0.88);
  });

  it('follows a level that moved in the last steps instead of waiting half a window for it', () => {
    // A day at 40, then the last four steps at 90: a new deployment took the traffic.
    const s = spikyLevel(1200, 5, (i) => (i < 1196 ? 40 : 90));
    const f = forecast(s, { model: 'moving-median', horizon: 12, cleanOutliers: false });
    expect(f.point[0]).toBeGreaterThan(80);
    expect(f.detail).toMatch(/level moved up/);
  });

  it('is not moved by a spike in the last two steps', () => {
    const base = spikyLevel(1200, 5);
    const values = [...base.values];
    values[1198] = 200;
    values[1199] = 210;
    const f = forecast({ timestamps: base.timestamps, values }, { model: 'moving-median', horizon: 12, cleanOutliers: false });
    expect(f.point[0]).toBeGreaterThan(35);
    expect(f.point[0]).toBeLessThan(45);
  });

  it('hands over to the last value when the history is too short to choose a window, saying so', () => {
    const s = spikyLevel(30, 1);
    const f = forecast(s, { model: 'moving-median', horizon: 12, cleanOutliers: false });
    expect(f.rung).toBe('naive');
    expect(f.fallbackReasons.join()).toMatch(/moving-median: needs at least 32 points for a horizon of 12, got 30/);
  });
});

describe('slidingMedians', () => {
  it('equals the median of each window sorted afresh, with ties and odd and even windows', () => {
    const random = mulberry32(9);
    const y = Float64Array.from({ length: 400 }, () => Math.floor(random() * 20));
    for (const k of [1, 2, 3, 6, 7, 48]) {
      const got = slidingMedians(y, k, k, 399);
      for (let t = k; t <= 399; t++) {
        const w = y.slice(t - k, t).sort();
        const want = k % 2 ? w[k >> 1] : (w[(k >> 1) - 1] + w[k >> 1]) / 2;
        expect(got[t - k]).toBe(want);
      }
    }
  });
});
