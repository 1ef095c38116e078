import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { parseSeriesCsv } from '../core/series/csv.ts';
import { DEFAULT_TRACE } from './demo.ts';
import { historyCounter, rpsAt, scenario, surgeFactor, surgePeak, ScenarioError } from './scenario.ts';

const series = parseSeriesCsv(readFileSync(DEFAULT_TRACE, 'utf8'), 'nasa');
const options = { speed: 288, durationSeconds: 300, historyDays: 5, peakRps: 40, surge: { factor: 2.5, at: 75, rampSeconds: 45, holdSeconds: 24 }, degrade: { at: 180, seconds: 36 } };

describe('the demo scenario', () => {
  it('replays the trace scaled to the peak rate, with the surge on top', () => {
    const s = scenario(series, options);
    let peak = 0;
    for (let t = -5 * 300; t < 300; t += 0.5) if (t < 75 || t > 75 + 2 * 45 + 24) peak = Math.max(peak, rpsAt(s, t));
    expect(peak).toBeLessThanOrEqual(40 + 1e-9);
    expect(peak).toBeGreaterThan(30);
    expect(surgeFactor(s, 74)).toBe(1);
    expect(surgeFactor(s, 75 + 22.5)).toBeCloseTo(1.75, 9);
    expect(surgeFactor(s, surgePeak(s))).toBe(2.5);
    expect(surgeFactor(s, 75 + 45 + 24 + 45)).toBe(1);
    expect(rpsAt(s, surgePeak(s))).toBeCloseTo(2.5 * rpsAt({ ...s, surge: { ...s.surge, factor: 1 } }, surgePeak(s)), 9);
  });

  it('gives the history as a counter Prometheus would have scraped, ending at the start', () => {
    const s = scenario(series, options);
    const h = historyCounter(s, 1_000_000, 1);
    expect(h.timestamps.length).toBe(Math.floor((5 * 86_400) / 288));
    expect(h.timestamps.at(-1)).toBe(1_000_000 - 1);
    for (let i = 1; i < h.values.length; i++) expect(h.values[i]).toBeGreaterThanOrEqual(h.values[i - 1]);
    expect(h.values.at(-1)! - h.values.at(-2)!).toBeCloseTo(h.rates.at(-1)!, 9);
  });

  it('says what is missing when the trace is too short', () => {
    expect(() => scenario(series, { ...options, durationSeconds: 3000 })).toThrow(ScenarioError);
    expect(() => scenario(series, { ...options, durationSeconds: 3000 })).toThrow(/the trace holds 14\.0 days: not enough for 5 days of history and 10\.00 days of replay/);
  });
});
