import { describe, expect, it } from 'vitest';
import { decideSpill, DEFAULT_SPILL, mirrorWith, NO_SPILL, wantedSpill, type SpillInput, type SpillSpec, type SpillState } from './spill.ts';

const spec: SpillSpec = { ...DEFAULT_SPILL, threshold: 0.9, capacityPerReplica: 10, shadowResourceFraction: 0.5, mirrorShare: 0.1 };
const input = (over: Partial<SpillInput> = {}): SpillInput => ({ now: 1000, load: 80, servingReady: 10, standbyReady: 4, standbyHealthy: true, ...over });

describe('the share the load asks the standby to take', () => {
  it('is zero while the serving set has headroom at its threshold', () => {
    // 10 ready replicas of 10 at 0.9: 90 before anything spills.
    expect(wantedSpill(spec, input({ load: 90 })).share).toBe(0);
    expect(wantedSpill(spec, input({ load: 90 })).why).toMatch(/headroom/);
  });

  it('is the excess over the threshold, counting the plan over the lag', () => {
    // The plan expects 100 within the lag: 10 above 90, a tenth of it.
    expect(wantedSpill(spec, input({ load: 80, plannedLoad: 100, standbyReady: 20 })).share).toBeCloseTo(0.1, 9);
    // The load now above the plan counts too.
    expect(wantedSpill(spec, input({ load: 100, plannedLoad: 90, standbyReady: 20 })).share).toBeCloseTo(0.1, 9);
  });

  it('is capped by what the standby serves, and by the highest share', () => {
    // Standby: 4 × 10 × 0.5 × 0.9 = 18 of the 30 above the threshold (no mirrored copy while spilling).
    const w = wantedSpill(spec, input({ load: 120 }));
    expect(w.share).toBeCloseTo(18 / 120, 9);
    expect(w.why).toMatch(/as much as the standby serves/);
    expect(wantedSpill(spec, input({ load: 400, standbyReady: 100 })).share).toBe(0.45);
    expect(mirrorWith(spec, 0.15)).toBe(0);
    expect(mirrorWith(spec, 0)).toBe(0.1);
  });

  it('leaves room for the mirrored copy when the mirror is kept while spilling', () => {
    const kept = { ...spec, mirrorWhileSpilling: true };
    // 18 less a tenth of 120 mirrored: 6.
    expect(wantedSpill(kept, input({ load: 120 })).share).toBeCloseTo(6 / 120, 9);
    expect(mirrorWith(kept, 0.05)).toBe(0.1);
  });

  it('is zero to an unready or unhealthy standby', () => {
    expect(wantedSpill(spec, input({ load: 120, standbyReady: 0 })).why).toMatch(/no ready replica/);
    expect(wantedSpill(spec, input({ load: 120, standbyHealthy: false })).share).toBe(0);
  });
});

describe('the share decided', () => {
  const surge = input({ load: 100, plannedLoad: 150, standbyReady: 20 });

  it('moves at most ten points a change, and once a hold', () => {
    let state: SpillState = NO_SPILL;
    const shares: number[] = [];
    for (let now = 0; now <= 120; now += 15) {
      const d = decideSpill(spec, state, { ...surge, now });
      if (d.changed) state = { share: d.share, changedAt: now };
      shares.push(state.share);
    }
    // 60 above 90 of 150: 0.4 wanted, reached in steps of 0.1 every 30 s.
    expect(shares).toEqual([0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.4]);
  });

  it('does not give back a few points, and gives back a drop beyond the hysteresis', () => {
    const state = { share: 0.3, changedAt: 0 };
    // 0.27 wanted: within 5 points of 0.3, kept.
    expect(decideSpill(spec, state, input({ now: 100, load: 123.3, standbyReady: 20 }))).toMatchObject({ share: 0.3, changed: false });
    // Headroom again: back down, ten points at a time.
    expect(decideSpill(spec, state, input({ now: 100, load: 50, standbyReady: 20 }))).toMatchObject({ share: 0.2, changed: true });
  });

  it('withdraws from an unready or unhealthy standby at once, hold or not', () => {
    const state = { share: 0.4, changedAt: 990 };
    expect(decideSpill(spec, state, input({ now: 1000, load: 200, standbyHealthy: false }))).toMatchObject({ share: 0, changed: true });
    expect(decideSpill(spec, state, input({ now: 1000, load: 200, standbyReady: 0 }))).toMatchObject({ share: 0, changed: true });
  });

  it('holds a change until the hold has passed', () => {
    const d = decideSpill(spec, { share: 0.1, changedAt: 990 }, { ...surge, now: 1000 });
    expect(d).toMatchObject({ share: 0.1, changed: false });
    expect(d.why).toMatch(/held until 1020/);
  });
});
