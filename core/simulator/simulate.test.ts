import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSeriesCsv } from '../series/csv.ts';
import { Cluster } from './cluster.ts';
import { ForecastCache } from './forecaster.ts';
import { defaultSpec, hpaAtEqualCost, hpaFrontier, POLICIES, simulate } from './simulate.ts';
import type { Trace } from './trace.ts';
import { autoCapacity, loadAt, peakLoad, traceFromSeries } from './trace.ts';

/** One point a minute: flat at `base`, with a step up to `peak` for `minutes` from minute `at`. */
function stepTrace(hours: number, base: number, peak: number, at: number, minutes: number): Trace {
  const values = Float64Array.from({ length: hours * 60 }, (_, i) => (i >= at && i < at + minutes ? peak : base));
  return { start: 0, stepSeconds: 60, values };
}

const spec = (overrides = {}) => defaultSpec({ capacityPerReplica: 10, warmupSeconds: 0, maxReplicas: 100, ...overrides });

describe('trace', () => {
  it('holds each value until the next point', () => {
    const trace = stepTrace(2, 5, 50, 10, 3);
    expect(loadAt(trace, 599)).toBe(5);
    expect(loadAt(trace, 600)).toBe(50);
    expect(loadAt(trace, 779)).toBe(50);
    expect(loadAt(trace, 780)).toBe(5);
    expect(peakLoad(trace, 0, 600)).toBe(50);
  });

  it('picks a capacity that needs about 20 replicas at the 95th percentile', () => {
    expect(autoCapacity({ start: 0, stepSeconds: 60, values: Float64Array.from({ length: 100 }, (_, i) => i + 1) })).toBeCloseTo(96 / 20, 9);
  });
});

describe('cluster', () => {
  it('starts pods one lag after the decision and removes the newest (starting) ones first', () => {
    const c = new Cluster({ capacityPerReplica: 10, provisioningLagSeconds: 120, shadowResourceFraction: 0.5 });
    c.seed(2, 0, 0);
    c.scalePrimaries(5, 100);
    expect(c.capacity(219)).toBe(20);
    expect(c.capacity(220)).toBe(50);
    c.scalePrimaries(3, 150); // removes 2 of the 3 still starting
    expect(c.capacity(300)).toBe(30);
    expect(c.primaryCount()).toBe(3);
  });

  it('detaches ready pods into the pool on a scale-down, up to the room given, and takes them back first on a scale-up, ready at once', () => {
    const c = new Cluster({ capacityPerReplica: 10, provisioningLagSeconds: 120, shadowResourceFraction: 0.5 });
    c.seed(6, 1, 0);
    c.scalePrimaries(8, 100); // 2 starting
    // Down to 3: the 2 starting pods go first (not detached), then 3 ready ones, of which 2 fit the pool.
    expect(c.scalePrimaries(3, 150, 2)).toEqual({ detached: 2, returned: 0 });
    expect(c.primaryCount()).toBe(3);
    expect(c.shadowCount()).toBe(3);
    expect(c.detachedCount()).toBe(2);
    // Detached pods keep the primary's resources: a full replica each; the planned shadow half of one.
    expect(c.cost()).toEqual({ primary: 3, shadow: 0.5 + 2 });
    // Without room, a scale-down kills as before.
    expect(c.scalePrimaries(2, 160, 0)).toEqual({ detached: 0, returned: 0 });
    expect(c.shadowCount()).toBe(3);
    // Up to 5: the 2 detached pods come back serving at once, a third one starts.
    expect(c.scalePrimaries(5, 200)).toEqual({ detached: 0, returned: 2 });
    expect(c.capacity(200)).toBe(40);
    expect(c.capacity(320)).toBe(50);
    expect(c.detachedCount()).toBe(0);
  });

  it('gives no capacity to shadows: they serve no live traffic', () => {
    const c = new Cluster({ capacityPerReplica: 10, provisioningLagSeconds: 120, shadowResourceFraction: 0.5 });
    c.seed(2, 5, 0);
    expect(c.capacity(1000)).toBe(20);
    expect(c.cost()).toEqual({ primary: 2, shadow: 2.5 });
  });
});

describe('simulate', () => {
  it('charges unserved load while new pods start: hpa on a step it cannot foresee', () => {
    // 50 req/s for 1 h, then 150 for 30 min: 5 ready replicas at capacity 10 × 0.8 target... the HPA
    // sees the step a sync later and the pods arrive a lag after that.
    const trace = stepTrace(2, 40, 120, 60, 30);
    const r = simulate(trace, POLICIES.hpa, spec());
    expect(r.unserved).toBeGreaterThan(0);
    // At most: the whole step for one lag plus two syncs and the averaging minute.
    expect(r.violationSeconds).toBeLessThanOrEqual(120 + 60 + 30);
    expect(r.violationSeconds).toBeGreaterThanOrEqual(120);
  });

  it('oracle serves everything on a step with the fewest replica-seconds any policy could', () => {
    const trace = stepTrace(2, 40, 120, 60, 30);
    const oracle = simulate(trace, POLICIES.oracle, spec());
    expect(oracle.unserved).toBe(0);
    // Lower bound: every second needs ceil(load / capacity) replicas, and each replica of the step
    // must exist from one lag before it is needed: 4 × 7200 s + 8 × (1800 + 120) s.
    expect(oracle.replicaSeconds).toBe(4 * 7200 + 8 * (1800 + 120));
  });

  it('oracle beats every hpa setting on a spiky trace: no unserved load, fewer replica-seconds than hpa at 0.8', () => {
    const values = Float64Array.from({ length: 6 * 60 }, (_, i) => 50 + 40 * Math.sin(i / 20) + (i % 37 === 0 ? 60 : 0));
    const trace: Trace = { start: 0, stepSeconds: 60, values };
    const oracle = simulate(trace, POLICIES.oracle, spec());
    const hpa = simulate(trace, POLICIES.hpa, spec());
    expect(oracle.unserved).toBe(0);
    expect(oracle.replicaSeconds).toBeLessThan(hpa.replicaSeconds);
  });

  it('costs shadows at their resource fraction', () => {
    const trace = stepTrace(2, 40, 40, 0, 0);
    const r = simulate(trace, POLICIES.shadowscale, spec({ shadowMinReplicas: 2, shadowMaxReplicas: 2, warmupSeconds: 0 }));
    // Two shadows at half a replica, all the time.
    expect(r.shadowReplicaSeconds).toBe(2 * 0.5 * 7200);
  });
});

describe('forecasts fitted once and replayed', () => {
  it('give a tuning grid exactly the run it would have had with live fits, and the plan\'s knobs change the plan', () => {
    const file = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'nasa_http_1995-07-01_to_07-14_per_minute.csv');
    const trace = traceFromSeries(parseSeriesCsv(readFileSync(file, 'utf8'), file));
    const s = spec({ capacityPerReplica: autoCapacity(trace), warmupSeconds: 12 * 86_400 });
    const live = simulate(trace, POLICIES.shadowscale, s);
    const cache = new ForecastCache(trace);
    const recorded = simulate(trace, POLICIES.shadowscale, s, { forecasts: cache });
    const replayed = simulate(trace, POLICIES.shadowscale, s, { forecasts: cache });
    for (const r of [recorded, replayed]) {
      expect(r.replicaSeconds).toBe(live.replicaSeconds);
      expect(r.unserved).toBe(live.unserved);
      expect(r.stats).toEqual(live.stats);
    }
    expect(live.stats.fits).toBeGreaterThan(40);
    // The knobs tuned over the replays: a lower utilisation target keeps more headroom, and so does a
    // higher quantile of the anchored plan.
    const wider = simulate(trace, POLICIES.shadowscale, { ...s, planTargetUtilization: 0.6 }, { forecasts: cache });
    expect(wider.replicaSeconds).toBeGreaterThan(live.replicaSeconds);
    expect(wider.unserved).toBeLessThanOrEqual(live.unserved);
    const anchored = simulate(trace, POLICIES.shadowscale, { ...s, plan: 'anchored' }, { forecasts: cache });
    const anchoredWider = simulate(trace, POLICIES.shadowscale, { ...s, plan: 'anchored', headroomQuantile: 0.99 }, { forecasts: cache });
    expect(anchoredWider.replicaSeconds).toBeGreaterThan(anchored.replicaSeconds);
    expect(anchoredWider.unserved).toBeLessThanOrEqual(anchored.unserved);
  }, 120_000);
});

describe('equal-cost comparison', () => {
  const trace = stepTrace(4, 40, 120, 90, 40);

  it('finds the hpa target that spends exactly the given replica-seconds, by bisection', () => {
    const at07 = simulate(trace, POLICIES.hpa, spec({ targetUtilization: 0.7 }));
    const equal = hpaAtEqualCost(trace, spec(), at07.replicaSeconds);
    expect(equal.extrapolated).toBe(false);
    // The cost matches to 0.1 %, so the unserved fraction is the one of (about) that target.
    const there = simulate(trace, POLICIES.hpa, spec({ targetUtilization: equal.targetUtilization }));
    expect(Math.abs(there.replicaSeconds - at07.replicaSeconds) / at07.replicaSeconds).toBeLessThan(0.002);
    expect(equal.value).toBeCloseTo(at07.unservedFraction, 3);
    expect(equal.runs).toBeLessThan(40);
  });

  it('says when no target spends that much, or that little, and gives the nearest end', () => {
    const dearest = simulate(trace, POLICIES.hpa, spec({ targetUtilization: 0.05 }));
    expect(hpaAtEqualCost(trace, spec(), dearest.replicaSeconds * 2)).toMatchObject({ value: dearest.unservedFraction, targetUtilization: 0.05, extrapolated: true });
    const cheapest = simulate(trace, POLICIES.hpa, spec({ targetUtilization: 1 }));
    expect(hpaAtEqualCost(trace, spec(), cheapest.replicaSeconds / 2)).toMatchObject({ value: cheapest.unservedFraction, targetUtilization: 1, extrapolated: true });
  });

  it('draws hpa\'s frontier from 0.95 down to 0.3: more replica-seconds, no more unserved load', () => {
    const trace = stepTrace(3, 40, 120, 60, 30);
    const f = hpaFrontier(trace, spec());
    expect(f.map((r) => r.targetUtilization)).toEqual([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3]);
    for (let i = 1; i < f.length; i++) {
      expect(f[i].replicaSeconds).toBeGreaterThanOrEqual(f[i - 1].replicaSeconds);
      expect(f[i].unserved).toBeLessThanOrEqual(f[i - 1].unserved);
    }
  });
});

describe('the policy names the CLI lists without loading the simulator', () => {
  it('are exactly the simulator policies', async () => {
    const { POLICY_NAMES } = await import('./policy-names.ts');
    expect([...POLICY_NAMES].sort()).toEqual(Object.keys(POLICIES).sort());
  });
});

describe('spill-over in the simulator', () => {
  // Flat at 40 for two hours, then a jump to 52 for 40 minutes: 30 % more than the serving set has.
  const trace = stepTrace(4, 40, 52, 120, 40);
  const s = (over = {}) => spec({ shadowMinReplicas: 2, shadowMaxReplicas: 6, mirrorShare: 0.05, ...over });

  it('sends the shadows a share of live traffic during a surge, and serves more of it than without', () => {
    const plain = simulate(trace, POLICIES.shadowscale, s());
    const spill = simulate(trace, POLICIES['shadowscale+spill'], s());
    expect(plain.spillSeconds).toBe(0);
    expect(spill.spillSeconds).toBeGreaterThan(0);
    expect(spill.unserved).toBeLessThan(plain.unserved);
    // The same pods: spill-over moves traffic, it buys nothing.
    expect(spill.replicaSeconds).toBe(plain.replicaSeconds);
    // Nothing while the load is flat: no share before the jump.
    const first = spill.timeline.find((p) => p.spill > 0)!;
    expect(first.t).toBeGreaterThanOrEqual(120 * 60);
    expect(spill.stats.spillWrites).toBeGreaterThan(0);
  });

  it('sends nothing to shadows too small to serve a whole percent of the load', () => {
    const spill = simulate(trace, POLICIES['shadowscale+spill'], s({ shadowResourceFraction: 0.001 }));
    expect(spill.spillSeconds).toBe(0);
  });
});

describe('shadowscale with a perfect forecast (a bound for reading)', () => {
  // Flat at 40 for two hours, then a jump to 80 for 30 minutes.
  const trace = stepTrace(4, 40, 80, 120, 30);

  it('reads the true load of the next lag and no further: its capacity is ready when the jump comes, asked for no earlier than a lag before', () => {
    const s = spec();
    const lag = s.provisioningLagSeconds;
    const perfect = simulate(trace, POLICIES['shadowscale+perfect-forecast'], s);
    const reactive = simulate(trace, POLICIES.hpa, s);
    expect(reactive.unserved).toBeGreaterThan(0);
    expect(perfect.unserved).toBe(0);
    const base = perfect.timeline[0].replicas;
    const firstUp = perfect.timeline.find((p) => p.replicas > base)!;
    expect(firstUp.t).toBeGreaterThanOrEqual(120 * 60 - lag - s.tickSeconds);
    expect(firstUp.t).toBeLessThan(120 * 60);
    // It fits nothing and runs no pre-scale (no forecast band to compare the load with), where the
    // product, given the same pre-scale spec, does.
    const alertPath = { evaluationIntervalSeconds: 30, forSeconds: { ShadowscalePredictedOverload: 60, 'ShadowscaleLoadAnomaly/above_forecast_band': 60 }, groupWaitSeconds: 0, groupIntervalSeconds: 30 };
    const s2 = { ...s, prescale: { alertPath, cooldownSeconds: 300, prescaleMaxSeconds: 3600, minRequestRate: 1 } };
    expect(simulate(trace, POLICIES['shadowscale+perfect-forecast'], s2).stats).not.toHaveProperty('prescaleAlertsFired');
    expect(simulate(trace, POLICIES.shadowscale, s2).stats).toHaveProperty('prescaleAlertsFired');
    expect(perfect.stats.fits).toBe(0);
  });

  it('gives the planner the trace points from now to one lag ahead, and nothing past the trace', async () => {
    const { trueLoadAhead } = await import('./policies/shadowscale.ts');
    expect(trueLoadAhead(trace, 119 * 60, 120)?.point).toEqual([40, 80, 80]);
    expect(trueLoadAhead(trace, 119 * 60 + 30, 60)?.point).toEqual([40, 80]);
    expect(trueLoadAhead(trace, 4 * 3600 - 60, 600)?.point).toEqual([40]);
    expect(trueLoadAhead(trace, 4 * 3600, 600)).toBeUndefined();
  });
});

describe('shadowscale\'s forecast diagnostics (for reading, never for deciding)', () => {
  // Flat at 40 for two hours, then a jump to 80 for 30 minutes.
  const trace = stepTrace(4, 40, 80, 120, 30);

  it('measures, for reading, the forecast\'s and the observed load\'s error on the true peak of the next lag', () => {
    // The observed load misses the jump for a lag (and the pipeline's delay) before it, and its end for
    // the delay after it: at a lag of 300 s, 180 s (12 ticks) more than at 120 s, each 40 (the jump) off.
    const missed = (lag: number) => {
      const r = simulate(trace, POLICIES.shadowscale, spec({ provisioningLagSeconds: lag }));
      expect(r.stats.peakErrorTicks).toBeGreaterThan(0);
      expect(r.stats.peakErrorTicks).toBeLessThanOrEqual(r.scoredTicks);
      // A forecast fitted before the jump cannot foresee it, nor its end.
      expect(r.stats.forecastPeakMae).toBeGreaterThan(0);
      return (r.stats.observedPeakMae * r.stats.peakErrorTicks) / 40;
    };
    expect(missed(300) - missed(120)).toBeCloseTo((300 - 120) / spec().tickSeconds, 6);
    // A forecast fitted before a one-off jump foresees none of the rise: the larger of it and the load
    // observed falls as short of the true peak as the load observed alone.
    const once = simulate(trace, POLICIES.shadowscale, spec());
    expect(once.stats.observedPeakShortfall).toBeGreaterThan(0);
    expect(once.stats.planPeakShortfall).toBeCloseTo(once.stats.observedPeakShortfall, 9);
    // Only a policy that plans on a forecast reports it.
    expect(simulate(trace, POLICIES['shadowscale+perfect-forecast'], spec()).stats).not.toHaveProperty('peakErrorTicks');
    expect(simulate(trace, POLICIES.hpa, spec()).stats).not.toHaveProperty('peakErrorTicks');
  });

  it('bounds for reading: the forecast\'s peak error scaled at every tick, and nothing else changed', () => {
    // A daily wave with noise, and a jump on the last day that no forecast foresees.
    const values = Float64Array.from({ length: 4 * 1440 }, (_, i) => 40 - 30 * Math.cos((2 * Math.PI * i) / 1440) + ((i * 7919) % 11) + (i >= 3 * 1440 + 600 && i < 3 * 1440 + 630 ? 40 : 0));
    const daily: Trace = { start: 0, stepSeconds: 60, values };
    const s = spec({ warmupSeconds: 3 * 86_400 });
    const product = simulate(daily, POLICIES['shadowscale+spill'], s);
    for (const scale of [0.75, 0.5]) {
      const closer = simulate(daily, POLICIES[`shadowscale+spill+peak-error-${scale}`], s);
      expect(closer.stats.peakErrorTicks).toBe(product.stats.peakErrorTicks);
      expect(closer.stats.forecastPeakMae).toBeCloseTo(scale * product.stats.forecastPeakMae, 9);
      expect(closer.stats.observedPeakMae).toBeCloseTo(product.stats.observedPeakMae, 9);
      expect(closer.stats.fits).toBe(product.stats.fits);
    }
    // The hindsight choice fits every candidate at each refit; its peak error is no larger than the product's.
    const hindsight = simulate(daily, POLICIES['shadowscale+spill+hindsight-choice'], s);
    expect(hindsight.stats.forecastPeakMae).toBeLessThanOrEqual(product.stats.forecastPeakMae);
  });

  it('counts the rise that a forecast foresees: the same day every day', () => {
    // Five days of minutes, a daily wave between 10 and 70; three days of warm-up for the forecaster
    // to learn the day from.
    const values = Float64Array.from({ length: 5 * 1440 }, (_, i) => 40 - 30 * Math.cos((2 * Math.PI * i) / 1440));
    const daily: Trace = { start: 0, stepSeconds: 60, values };
    const r = simulate(daily, POLICIES.shadowscale, spec({ warmupSeconds: 3 * 86_400 }));
    expect(r.stats.observedPeakShortfall).toBeGreaterThan(0);
    // The larger of the forecast's peak and the load observed falls short far less than the load alone.
    expect(r.stats.planPeakShortfall).toBeLessThan(0.1 * r.stats.observedPeakShortfall);
  });
});
