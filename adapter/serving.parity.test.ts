/**
 * The simulator replays what the adapter serves: at every tick of a real trace (NASA HTTP, a day
 * after five of history), the simulator's shadowscale policy and the adapter's serving view, given the
 * same forecast, trust, observed load and history, plan the same load and the same shadow pool.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseConfig } from '../core/config.ts';
import type { Forecast } from '../core/forecast/types.ts';
import { riseHeadroomOf, volatilityOf } from '../core/planner/serving.ts';
import { parseSeriesCsv } from '../core/series/csv.ts';
import { ScheduledForecaster } from '../core/simulator/forecaster.ts';
import type { PolicySetup } from '../core/simulator/policy.ts';
import { shadowscalePolicy } from '../core/simulator/policies/shadowscale.ts';
import { loadAt, traceFromSeries } from '../core/simulator/trace.ts';
import { view } from './serving.ts';

const TRACE = join(import.meta.dirname, '..', 'test', 'fixtures', 'nasa_http_1995-07-01_to_07-14_per_minute.csv');
const LAG = 180;
const TICK = 60;

describe('one forecast-to-plan pipeline', () => {
  it.each(['level', 'anchored'] as const)('plans the same load and pool in the simulator as the adapter serves, at every tick (plan: %s)', (method) => {
    const trace = traceFromSeries(parseSeriesCsv(readFileSync(TRACE, 'utf8'), TRACE));
    const setup: PolicySetup = {
      trace,
      capacityPerReplica: 5,
      targetUtilization: 0.8,
      provisioningLagSeconds: LAG,
      tickSeconds: TICK,
      minReplicas: 2,
      maxReplicas: 60,
      shadow: { minReplicas: 1, maxReplicas: 20, resourceFraction: 0.5 },
      headroomQuantile: 0.9,
      plan: method,
      planTargetUtilization: 0.8,
      forecast: { fitStepSeconds: 300, historySeconds: 5 * 86_400, refitSeconds: 3600, rescoreSeconds: 86_400 },
      // The adapter reads the load at every tick, with no delay, so that both sides see the same values
      // (adapter.observe off: the plan's load is the history's last step).
      pipeline: { scrapeDelaySeconds: 0, adapter: { stepSeconds: TICK, refreshSeconds: TICK, jitter: 0 } },
      mirrorShare: 0.1,
    };
    const policy = shadowscalePolicy(setup);
    // The same forecasts the policy sees (the fits are deterministic).
    const forecaster = new ScheduledForecaster(trace, { model: 'auto', lagSeconds: LAG, ...setup.forecast });
    const w = parseConfig(`
prometheus: { url: http://127.0.0.1:9 }
workloads:
  - name: web
    namespace: demo
    capacityPerReplica: ${setup.capacityPerReplica}
    provisioningLag: ${LAG}s
    primary: { name: web, minReplicas: ${setup.minReplicas}, maxReplicas: ${setup.maxReplicas} }
    shadow: { name: web-shadow, minReplicas: 1, maxReplicas: 20, resourceFraction: 0.5 }
${method === 'level' ? '' : `    plan: ${method}`}
`).workloads[0];
    // The workload's defaults, as the simulator's are.
    expect(w.headroomQuantile).toBe(setup.headroomQuantile);
    expect(w.targetUtilization).toBe(setup.planTargetUtilization);
    expect(w.plan).toBe(method);

    // On the step grid, as the adapter's queries are.
    const start = Math.ceil((trace.start + 5 * 86_400) / TICK) * TICK;
    const timestamps: number[] = [];
    const values: number[] = [];
    // The day before, which the adapter's history (and the policy's first refresh) holds already.
    for (let t = start - 1500 * TICK; t < start; t += TICK) {
      timestamps.push(t);
      values.push(loadAt(trace, t - TICK));
    }
    let compared = 0;
    let withForecast = 0;
    const pools = new Set<number>();
    let learned = 0;
    for (let now = start; now < start + 86_400; now += TICK) {
      const observed = loadAt(trace, now - TICK);
      const decision = policy.decide({ now, observedAt: (t) => loadAt(trace, t - TICK), capacity: Infinity, standbyReady: 1, standbyHealthyAt: () => true });
      timestamps.push(now);
      values.push(observed);
      const f = forecaster.at(now);
      const served = view(
        {
          config: w,
          lagSeconds: LAG,
          forecast: f ? { forecast: { ...f, model: 'mstl', rung: 'mstl', fallbackReasons: [], periods: [], warnings: [] } as unknown as Forecast, fittedAt: now * 1000, model: 'mstl' } : undefined,
          pastForecasts: [],
          observed: { value: observed, at: now },
          lagVolatility: volatilityOf({ timestamps: timestamps.slice(-80), values: values.slice(-80) }, TICK, LAG),
          // What the adapter learns at each refresh (forecast-loop.ts): over a lag and a refresh.
          riseHeadroom: riseHeadroomOf({ timestamps, values }, TICK, LAG + TICK, w.headroomQuantile),
          trusted: forecaster.trusted,
          lastAttempt: { at: now * 1000, ok: true },
        },
        now * 1000,
        3600,
      );
      expect(decision.metric! / setup.targetUtilization, `predicted load at ${now}`).toBeCloseTo(served.plan.predictedLoad, 9);
      expect(decision.shadowPool, `shadow pool at ${now}`).toBe(served.plan.shadowPoolSize);
      expect(served.plan.bound).toBe(served.rung === 'fresh' ? method : 'observed');
      pools.add(served.plan.shadowPoolSize);
      compared++;
      if (served.rung === 'fresh') withForecast++;
      if (riseHeadroomOf({ timestamps, values }, TICK, LAG + TICK, w.headroomQuantile) !== undefined) learned++;
    }
    expect(compared).toBe(1440);
    expect(withForecast).toBeGreaterThan(1400);
    // The learned headroom was known throughout: what the anchored plan planned on.
    expect(learned).toBe(1440);
    if (method === 'anchored') {
      // The pool moved with the forecast's rises, so the comparison of pools was not of constants.
      expect(pools.size).toBeGreaterThan(1);
    } else {
      // The level plan asks the primaries for the rise: its pool is the minimum throughout.
      expect([...pools]).toEqual([1]);
    }
  }, 120_000);
});
