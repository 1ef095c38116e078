import { describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.ts';
import type { Forecast } from '../core/forecast/types.ts';
import { rungOf, view, type WorkloadSnapshot } from './serving.ts';

const config = parseConfig(`
prometheus: { url: http://127.0.0.1:9090 }
workloads:
  - name: checkout
    namespace: shop
    load: x
    capacityPerReplica: 10
    provisioningLag: 2m
    primary: { name: checkout, minReplicas: 2, maxReplicas: 50 }
`).workloads[0];

const T0 = 1_800_000_000_000; // ms
/** A forecast fitted at T0 whose steps start one minute later: 100, 110, 120, ... */
function forecastAt(startSeconds: number): Forecast {
  const point = Array.from({ length: 12 }, (_, i) => 100 + 10 * i);
  return {
    model: 'mstl', rung: 'mstl', fallbackReasons: [], start: startSeconds, stepSeconds: 60, point,
    intervals: { 0.8: { lower: point.map((p) => p - 5), upper: point.map((p) => p + 5) }, 0.95: { lower: point.map((p) => p - 9), upper: point.map((p) => p + 9) } },
    periods: [1440], warnings: [],
  };
}

function snapshot(over: Partial<WorkloadSnapshot> = {}): WorkloadSnapshot {
  return {
    config,
    lagSeconds: 120,
    forecast: { forecast: forecastAt(T0 / 1000 + 60), fittedAt: T0, model: 'mstl' },
    pastForecasts: [],
    observed: { value: 95, at: T0 / 1000 },
    trusted: false,
    lastAttempt: { at: T0, ok: true },
    ...over,
  };
}

describe('the serving ladder', () => {
  it('serves a fresh forecast: the peak of the point forecast over the next lag, at the 80 % utilisation target', () => {
    const v = view(snapshot(), T0, 600);
    expect(v.rung).toBe('fresh');
    // Steps at T0+60 and T0+120 are within one lag (2 min) of T0: 100 and 110; 110 / 0.8 = 137.5.
    expect(v.served).toEqual({ predictedLoad: 137.5, bound: 'level', desiredReplicas: 14, shadowPoolSize: 0 });
    expect(v.atHorizon?.point).toBe(110);
  });

  it('counts the replicas it serves in pods of the set that serves: twice as many half-size shadow pods after a promotion', () => {
    const v = view(snapshot({ servingPodSize: 0.5 }), T0, 600);
    expect(v.plan.desiredReplicas).toBe(14);
    expect(v.served.desiredReplicas).toBe(28);
    expect(v.served.predictedLoad).toBe(137.5);
  });

  it('counts a forecast\'s age from when its data was current, not from a refit on cached history', () => {
    // Refitted just now, on history whose newest current data was seen 11 minutes ago (Prometheus away).
    const refit = snapshot({ forecast: { forecast: forecastAt(T0 / 1000 + 60), fittedAt: T0, freshAt: T0 - 660_000, model: 'mstl' }, observed: { value: 95, at: T0 / 1000 - 660 } });
    const v = view(refit, T0, 600);
    expect(v.forecastAgeSeconds).toBe(660);
    expect(v.rung).toBe('minimum');
    // The same fit on current data is fresh.
    expect(view(snapshot({ forecast: { forecast: forecastAt(T0 / 1000 + 60), fittedAt: T0, freshAt: T0, model: 'mstl' } }), T0, 600).rung).toBe('fresh');
  });

  it('plans on the point forecast, trusted or not; with plan: anchored and no headroom known yet, on the upper bound once trusted', () => {
    expect(view(snapshot({ trusted: true }), T0, 600).served.predictedLoad).toBe(137.5);
    const anchored = { ...config, plan: 'anchored' as const };
    expect(view(snapshot({ config: anchored }), T0, 600).served).toMatchObject({ predictedLoad: 110, bound: 'point' });
    expect(view(snapshot({ config: anchored, trusted: true }), T0, 600).served).toMatchObject({ predictedLoad: 115, bound: 'upper80' });
    // With a learned headroom: the load now, the forecast's rise over the lag (110 − 100), the headroom.
    expect(view(snapshot({ config: anchored, riseHeadroom: 7 }), T0, 600).served).toMatchObject({ predictedLoad: 95 + 10 + 7, bound: 'anchored' });
  });

  it('takes the workload\'s utilisation target', () => {
    expect(view(snapshot({ config: { ...config, targetUtilization: 0.5 } }), T0, 600).served).toMatchObject({ predictedLoad: 220, desiredReplicas: 22 });
  });

  it('moves along the forecast as time passes', () => {
    expect(view(snapshot(), T0 + 5 * 60_000, 600).served.predictedLoad).toBe(200);
  });

  it('serves the last good forecast as stale after a failed refresh, within the TTL', () => {
    const v = view(snapshot({ lastAttempt: { at: T0 + 60_000, ok: false, stage: 'query', error: 'down' } }), T0 + 60_000, 600);
    expect(v.rung).toBe('stale');
    expect(v.served.predictedLoad).toBe(150);
  });

  it('falls back to the observed load once the forecast is older than the TTL', () => {
    const v = view(snapshot({ observed: { value: 95, at: T0 / 1000 + 650 } }), T0 + 660_000, 600);
    expect(v.rung).toBe('reactive');
    // What an HPA at an 80 % target asks for: 95 / 0.8 = 118.75 → 12.
    expect(v.served).toMatchObject({ predictedLoad: 118.75, bound: 'observed', desiredReplicas: 12 });
  });

  it('serves the observed load once a forecast within its TTL no longer covers the present, and the rung alone says the same', () => {
    // Fitted just now, but its steps ended an hour ago.
    const ended = snapshot({ forecast: { forecast: forecastAt(T0 / 1000 - 4000), fittedAt: T0, model: 'mstl' } });
    expect(view(ended, T0, 600)).toMatchObject({ rung: 'reactive', served: { predictedLoad: 118.75, bound: 'observed' } });
    for (const [s, at] of [[ended, T0], [snapshot(), T0], [snapshot(), T0 + 11 * 60_000], [snapshot({ observed: { value: 95, at: T0 / 1000 + 650 } }), T0 + 660_000], [snapshot(), T0 + 3_600_000]] as const) {
      expect(rungOf(s, at, 600).rung).toBe(view(s, at, 600).rung);
    }
  });

  it('falls back to the minimum when nothing recent is known, as a load the HPA turns into minReplicas', () => {
    const v = view(snapshot(), T0 + 3_600_000, 600);
    expect(v.rung).toBe('minimum');
    expect(v.served).toMatchObject({ predictedLoad: 20, desiredReplicas: 2 });
  });

  it('finds the forecast made one lag ago for the present moment', () => {
    const old = { forecast: forecastAt(T0 / 1000 - 240), fittedAt: T0 - 300_000, model: 'mstl' as const };
    const v = view(snapshot({ pastForecasts: [old] }), T0, 600);
    // Made 5 min ago with steps from T0-240 s: now is its step 4 (140).
    expect(v.forNow?.point).toBe(140);
  });
});
