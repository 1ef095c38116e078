import { describe, expect, it } from 'vitest';
import { isTrusted, lagVolatility, plan, type PlannerSpec } from './planner.ts';
import { riseHeadroomOf, RollingRiseHeadroom } from './serving.ts';
import { mulberry32 } from '../random.ts';

const spec: PlannerSpec = {
  capacityPerReplica: 50,
  method: 'anchored',
  primary: { minReplicas: 2, maxReplicas: 20 },
  shadow: { minReplicas: 1, maxReplicas: 6, resourceFraction: 0.5 },
};
const forecast = { point: [400, 450, 420], upper80: [430, 480, 470], upper95: [460, 520, 500] };

describe('the level plan (the default)', () => {
  const level: PlannerSpec = { ...spec, method: undefined };

  it('plans for the larger of the load now and the point forecast\'s peak over the lag, at 80 % utilisation', () => {
    // Peak 450 of the point forecast (its bands are not used), load now 400: 450 / 0.8 = 562.5 → 12
    // replicas of 50. The rise to come (50) is in the primaries' plan, so the pool stays at its
    // minimum (the anchored plan below would hold 1 + 2 shadows of 25 for it).
    expect(plan(level, { forecast, trusted: true, observedLoad: 400 })).toEqual({ predictedLoad: 562.5, bound: 'level', desiredReplicas: 12, shadowPoolSize: 1 });
    // The load now above the forecast: planned on.
    expect(plan(level, { forecast, trusted: false, observedLoad: 600 })).toEqual({ predictedLoad: 750, bound: 'level', desiredReplicas: 15, shadowPoolSize: 1 });
    // However steep the rise, the pool is the minimum the spec gives.
    const steep = { point: [400, 2000, 2400], upper80: [0, 0, 0], upper95: [0, 0, 0] };
    expect(plan({ ...level, shadow: { minReplicas: 2, maxReplicas: 6, resourceFraction: 0.5 } }, { forecast: steep, trusted: true, observedLoad: 400 }).shadowPoolSize).toBe(2);
  });

  it('takes its utilisation target from the spec, and ignores the learned headroom and volatility', () => {
    expect(plan({ ...level, targetUtilization: 0.5 }, { forecast, trusted: true, observedLoad: 400, lagVolatility: 30, riseHeadroom: 90 })).toMatchObject({ predictedLoad: 900, desiredReplicas: 18 });
    expect(plan({ ...level, targetUtilization: 1 }, { forecast, trusted: true, observedLoad: 400, riseHeadroom: 90 }).predictedLoad).toBe(450);
  });

  it('is reactive at the same target without a forecast, and the floor without a load', () => {
    // 130 / 0.8 = 162.5 → 4 replicas: what an HPA at an 80 % target asks for.
    expect(plan(level, { trusted: true, observedLoad: 130, riseHeadroom: 50 })).toEqual({ predictedLoad: 162.5, bound: 'observed', desiredReplicas: 4, shadowPoolSize: 1 });
    expect(plan(level, { trusted: true })).toEqual({ predictedLoad: 100, bound: 'minimum', desiredReplicas: 2, shadowPoolSize: 1 });
    // A forecast without a load: its peak alone, and no rise known for the pool.
    expect(plan(level, { forecast, trusted: false })).toMatchObject({ predictedLoad: 562.5, bound: 'level', shadowPoolSize: 1 });
  });

  it('plans for a peak anywhere in the window, not only at its end', () => {
    const early = { point: [400, 700, 300], upper80: [0, 0, 0], upper95: [0, 0, 0] };
    expect(plan(level, { forecast: early, trusted: false, observedLoad: 400 }).predictedLoad).toBe(875);
  });
});

describe('plan (method: anchored)', () => {
  it('plans a trusted forecast on the peak of its upper 80 % bound', () => {
    const p = plan(spec, { forecast, trusted: true, observedLoad: 400 });
    expect(p).toEqual({ predictedLoad: 480, bound: 'upper80', desiredReplicas: 10, shadowPoolSize: 1 + 3 });
  });

  it('plans an untrusted forecast on the peak of its point forecast', () => {
    const p = plan(spec, { forecast, trusted: false, observedLoad: 400 });
    expect(p).toEqual({ predictedLoad: 450, bound: 'point', desiredReplicas: 9, shadowPoolSize: 1 + 2 });
  });

  it('can be told to plan on the 95 % bound', () => {
    expect(plan({ ...spec, trustedBound: 'upper95' }, { forecast, trusted: true, observedLoad: 400 }).predictedLoad).toBe(520);
  });

  it('never plans below the load observed now', () => {
    const p = plan(spec, { forecast, trusted: false, observedLoad: 700 });
    expect(p.predictedLoad).toBe(700);
    expect(p.desiredReplicas).toBe(14);
    expect(p.shadowPoolSize).toBe(1); // no increase to come: pool at its minimum
  });

  it('falls back to the observed load without a forecast, and to the minimum without either', () => {
    expect(plan(spec, { trusted: true, observedLoad: 130 })).toEqual({ predictedLoad: 130, bound: 'observed', desiredReplicas: 3, shadowPoolSize: 1 });
    expect(plan(spec, { trusted: true })).toEqual({ predictedLoad: 100, bound: 'minimum', desiredReplicas: 2, shadowPoolSize: 1 });
    expect(plan(spec, { trusted: true, observedLoad: NaN })).toMatchObject({ bound: 'minimum', desiredReplicas: 2 });
  });

  it('keeps replicas and pool within their bounds', () => {
    const huge = { point: [1e6], upper80: [1e6], upper95: [1e6] };
    expect(plan(spec, { forecast: huge, trusted: true, observedLoad: 0 })).toMatchObject({ desiredReplicas: 20, shadowPoolSize: 6 });
    const zero = { point: [0], upper80: [0], upper95: [0] };
    expect(plan(spec, { forecast: zero, trusted: true, observedLoad: 0 })).toMatchObject({ predictedLoad: 0, desiredReplicas: 2, shadowPoolSize: 1 });
  });

  it('does not add a replica for floating-point dust: 500 / 50 is 10', () => {
    const f = { point: [0.1 + 0.2 + 499.7], upper80: [0], upper95: [0] };
    expect(plan(spec, { forecast: f, trusted: false }).desiredReplicas).toBe(10);
  });

  it('has no pool without a shadow spec', () => {
    expect(plan({ ...spec, shadow: undefined }, { forecast, trusted: true, observedLoad: 400 }).shadowPoolSize).toBe(0);
  });
});

describe('the anchored plan (observed load, forecast shape, volatility)', () => {
  it('adds the forecast rise over the lag and two standard deviations of the load change to the load now', () => {
    // Forecast rises 50 over the lag (its level, 400 → 450, is not used); the load is 300 now and moves
    // by 20 over a lag in the last hour: 300 + 50 + 2 × 20 = 390 → 8 replicas of 50.
    const p = plan(spec, { forecast, trusted: false, observedLoad: 300, lagVolatility: 20 });
    expect(p).toEqual({ predictedLoad: 390, bound: 'anchored', desiredReplicas: 8, shadowPoolSize: 1 + 2 });
  });

  it('keeps only volatility headroom when the forecast expects no rise, and takes its z from the spec', () => {
    const falling = { point: [500, 450, 400], upper80: [0, 0, 0], upper95: [0, 0, 0] };
    expect(plan(spec, { forecast: falling, trusted: true, observedLoad: 300, lagVolatility: 20 })).toMatchObject({ predictedLoad: 340, shadowPoolSize: 1 });
    expect(plan({ ...spec, headroomZ: 3 }, { forecast: falling, trusted: true, observedLoad: 300, lagVolatility: 20 }).predictedLoad).toBe(360);
  });

  it('adds the headroom to the observed load when there is no forecast', () => {
    expect(plan(spec, { trusted: false, observedLoad: 130, lagVolatility: 10 })).toMatchObject({ predictedLoad: 150, bound: 'observed', desiredReplicas: 3 });
  });
});

describe('the learned headroom', () => {
  const grid = (values: number[]) => ({ timestamps: values.map((_, i) => i * 60), values });

  it('plans on the load\'s own rises instead of its volatility when they are known', () => {
    const falling = { point: [500, 450, 400], upper80: [0, 0, 0], upper95: [0, 0, 0] };
    expect(plan(spec, { forecast: falling, trusted: true, observedLoad: 300, lagVolatility: 20, riseHeadroom: 75 }).predictedLoad).toBe(375);
    expect(plan(spec, { trusted: false, observedLoad: 130, lagVolatility: 10, riseHeadroom: 5 })).toMatchObject({ predictedLoad: 135, bound: 'observed' });
    // Unknown or not a load: the volatility's headroom.
    expect(plan(spec, { trusted: false, observedLoad: 130, lagVolatility: 10, riseHeadroom: NaN }).predictedLoad).toBe(150);
  });

  it('is the quantile of the highest rise within the reaction time after each point of the last day', () => {
    // A ramp of 1 a minute: over 3 minutes every point is followed by a rise of 3.
    expect(riseHeadroomOf(grid(Array.from({ length: 200 }, (_, i) => i)), 60, 180, 0.95)).toBe(3);
    // 2.5 minutes round up to 3 steps: the whole reaction time is covered.
    expect(riseHeadroomOf(grid(Array.from({ length: 200 }, (_, i) => i)), 60, 150, 0.95)).toBe(3);
    // Flat at 100 with a +50 spike every 33rd minute: 3 points in 33 (9 %) see it coming within 3 minutes.
    const spiky = Array.from({ length: 33 * 40 }, (_, i) => (i % 33 === 32 ? 150 : 100));
    expect(riseHeadroomOf(grid(spiky), 60, 180, 0.95)).toBe(50);
    expect(riseHeadroomOf(grid(spiky), 60, 180, 0.85)).toBe(0);
    // Only the last day counts: a spike two days ago is forgotten.
    const old = [...Array.from({ length: 1440 }, (_, i) => (i === 10 ? 500 : 100)), ...Array.from({ length: 1440 * 2 }, () => 100)];
    expect(riseHeadroomOf(grid(old), 60, 180, 0.999)).toBe(0);
  });

  it('rolled forward a refresh at a time (the simulator), answers exactly what it answers on the whole history', () => {
    const random = mulberry32(11);
    for (const [step, reaction, windowSeconds] of [
      [60, 180, 86_400],
      [60, 150, 7200],
      [30, 600, 3600],
      [300, 60, 86_400],
    ]) {
      const rolling = new RollingRiseHeadroom(step, reaction, windowSeconds);
      const history = { timestamps: [] as number[], values: [] as number[] };
      let t = -5 * step;
      let checked = 0;
      for (let refresh = 0; refresh < 900; refresh++) {
        // One to three steps a refresh, now and then a longer pause (steps with no point), a missing
        // sample (NaN), a burst, or a stretch longer than the window.
        const steps = random() < 0.01 ? Math.round(windowSeconds / step) + 7 : random() < 0.05 ? 2 + Math.floor(10 * random()) : 1 + Math.floor(3 * random());
        for (let s = 0; s < steps; s++) {
          t += step;
          if (random() < 0.1 && s < steps - 1) continue;
          const value = random() < 0.05 ? NaN : 100 + 50 * Math.sin(t / 3000) + (random() < 0.03 ? 400 * random() : 10 * random());
          history.timestamps.push(t);
          history.values.push(value);
          rolling.push(t, value);
        }
        for (const q of [0.5, 0.95, 0.99]) {
          const expected = riseHeadroomOf(history, step, reaction, q, windowSeconds);
          expect(rolling.headroom(q), `step ${step}, reaction ${reaction}, refresh ${refresh}, q ${q}`).toBe(expected);
          if (expected !== undefined) checked++;
        }
      }
      expect(checked).toBeGreaterThan(1000);
    }
    const r = new RollingRiseHeadroom(60, 180);
    r.push(120, 1);
    expect(() => r.push(60, 1)).toThrow(/not after the last one/);
  });

  it('selects the same quantile a full sort would, on a heavy-tailed random load', () => {
    const random = mulberry32(7);
    for (let run = 0; run < 20; run++) {
      const values = Array.from({ length: 1500 }, () => 100 * Math.exp(2 * random()) + (random() < 0.02 ? 1000 * random() : 0));
      const rises: number[] = [];
      for (let i = values.length - 1440 - 3; i + 3 < values.length; i++) rises.push(Math.max(values[i + 1], values[i + 2], values[i + 3]) - values[i]);
      rises.sort((a, b) => a - b);
      for (const q of [0.5, 0.9, 0.95, 0.99]) {
        expect(riseHeadroomOf(grid(values), 60, 180, q)).toBe(Math.max(0, rises[Math.floor(q * rises.length)]));
      }
    }
  });

  it('skips gaps, places samples on the step grid, and needs an hour of rises', () => {
    // The same ramp with every 10th sample missing: the rises around a gap still see the next sample.
    const ramp = Array.from({ length: 200 }, (_, i) => i);
    const timestamps = ramp.map((_, i) => i * 60).filter((_, i) => i % 10 !== 5);
    const values = ramp.filter((_, i) => i % 10 !== 5);
    expect(riseHeadroomOf({ timestamps, values }, 60, 180, 0.95)).toBe(3);
    expect(riseHeadroomOf(grid(Array.from({ length: 50 }, (_, i) => i)), 60, 180, 0.95)).toBeUndefined();
    expect(riseHeadroomOf(grid([]), 60, 180, 0.95)).toBeUndefined();
    // A falling load needs none.
    expect(riseHeadroomOf(grid(Array.from({ length: 200 }, (_, i) => 1000 - i)), 60, 180, 0.95)).toBe(0);
  });
});

describe('lagVolatility', () => {
  it('is the root mean square of the changes over the lag in the window', () => {
    // Changes over 2 steps ending at the last 3 values: 14-10=4, 8-12=-4, 11-14=-3.
    expect(lagVolatility([10, 12, 14, 8, 11], 2, 3)).toBeCloseTo(Math.sqrt((16 + 16 + 9) / 3), 10);
    expect(lagVolatility([5, 5, 5, 5, 5], 1, 10)).toBe(0);
  });
  it('skips gaps and needs two changes', () => {
    expect(lagVolatility([1, NaN, 3, 4, 5], 1, 10)).toBeCloseTo(1, 10);
    expect(lagVolatility([1, NaN, 3, 4], 1, 10)).toBeUndefined();
    expect(lagVolatility([1, 2], 1, 10)).toBeUndefined();
  });
});

describe('isTrusted', () => {
  it('trusts a forecast that beat seasonal-naive with a calibrated band', () => {
    expect(isTrusted({ relMae: 0.8, coverage95: 0.93 })).toBe(true);
  });
  it.each([
    ['no backtest yet', undefined],
    ['worse than seasonal-naive', { relMae: 1.05, coverage95: 0.95 }],
    ['a band that missed too often', { relMae: 0.7, coverage95: 0.6 }],
    ['no reference', { relMae: null, coverage95: 0.95 }],
  ])('does not trust %s', (_what, score) => {
    expect(isTrusted(score)).toBe(false);
  });
});
