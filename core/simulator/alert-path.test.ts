import { describe, expect, it } from 'vitest';

import { AlertPath, ReceiverPrescale, type AlertPathSpec, type RuleInputs } from './alert-path.ts';

const SPEC: AlertPathSpec = {
  evaluationIntervalSeconds: 30,
  forSeconds: { ShadowscalePredictedOverload: 60, 'ShadowscaleLoadAnomaly/above_forecast_band': 120 },
  groupWaitSeconds: 0,
  groupIntervalSeconds: 30,
};

/** Forecast above the ready capacity during [from, to). */
const overloadBetween = (from: number, to: number) => (t: number): RuleInputs => ({
  forecastUpper95: t >= from && t < to ? 200 : 50,
  readyCapacity: 100,
  minRequestRate: 1,
});

describe('the alert path', () => {
  it('fires an alert at the first evaluation its for: after the condition held, and resolves it at the first where it does not', () => {
    const path = new AlertPath(SPEC);
    const firing: number[] = [];
    for (let t = 0; t <= 600; t += 15) {
      path.evaluate(t, overloadBetween(95, 400));
      if (path.firing('ShadowscalePredictedOverload')) firing.push(t);
    }
    // True from the evaluation at 120 (95 is between two), firing from 180, false again at 420.
    expect(firing[0]).toBe(180);
    expect(firing.at(-1)).toBe(405);
    expect(path.fired).toBe(1);
  });

  it('does not fire a condition that stops holding before its for:', () => {
    const path = new AlertPath(SPEC);
    for (let t = 0; t <= 600; t += 15) path.evaluate(t, overloadBetween(120, 170));
    expect(path.fired).toBe(0);
    expect(path.notifications(600)).toEqual([]);
  });

  it('sends a new group at once (group_wait 0), later changes at the group_interval ticks, and deletes the group once its resolve is sent', () => {
    const path = new AlertPath({ ...SPEC, groupIntervalSeconds: 60 });
    const sent: Array<{ at: number; statuses: string[] }> = [];
    const inputs = (t: number): RuleInputs => ({
      forecastUpper95: (t >= 0 && t < 300) || t >= 900 ? 200 : 50,
      observed: t >= 30 && t < 330 ? 500 : 10,
      laggedUpper95: 100,
      readyCapacity: 100,
      minRequestRate: 1,
    });
    for (let t = 0; t <= 1200; t += 15) {
      path.evaluate(t, inputs);
      for (const n of path.notifications(t)) sent.push({ at: n.at, statuses: n.alerts.map((a) => `${a.alert}:${a.status}`).sort() });
    }
    expect(sent).toEqual([
      // The overload fires at 60: a new group, sent at once.
      { at: 60, statuses: ['ShadowscalePredictedOverload:firing'] },
      // The anomaly fires at 150: sent at the group's next tick after it.
      { at: 180, statuses: ['ShadowscaleLoadAnomaly/above_forecast_band:firing', 'ShadowscalePredictedOverload:firing'] },
      // The overload resolves at 300, the anomaly at 330: the ticks at 300 and 360 send them.
      { at: 300, statuses: ['ShadowscaleLoadAnomaly/above_forecast_band:firing', 'ShadowscalePredictedOverload:resolved'] },
      { at: 360, statuses: ['ShadowscaleLoadAnomaly/above_forecast_band:resolved', 'ShadowscalePredictedOverload:resolved'] },
      // All resolved and sent: the group is gone, and the next firing (960) is a new group, sent at once.
      { at: 960, statuses: ['ShadowscalePredictedOverload:firing'] },
    ]);
  });
});

describe('the receiver fed the alert path', () => {
  const limits = {
    primary: { name: 'web', minReplicas: 2, maxReplicas: 50 },
    shadow: { name: 'web-shadow', minReplicas: 1, maxReplicas: 10, mirrorPercent: 10, resourceFraction: 0.5 },
    cooldownMs: 300_000,
    prescaleMaxMs: 3_600_000,
    minHoldMs: 0,
    maxRoleChangesPerHour: 60,
    drainMs: 0,
  };

  it('raises the floor and pool to the plan read when the alert arrives, holds them through the cooldown, then lets go', () => {
    const receiver = new ReceiverPrescale(limits);
    expect(receiver.desired(0, { desiredReplicas: 9, shadowPoolSize: 4 })).toEqual({ floor: 2, pool: 1, episode: false });
    receiver.receive({ at: 60, alerts: [{ alert: 'ShadowscalePredictedOverload', status: 'firing', startsAt: 0 }] }, 60_000);
    expect(receiver.desired(60_000, { desiredReplicas: 12, shadowPoolSize: 5 })).toEqual({ floor: 12, pool: 5, episode: true });
    // The plan captured at the start holds, whatever the plan says later.
    expect(receiver.desired(120_000, { desiredReplicas: 30, shadowPoolSize: 8 })).toEqual({ floor: 12, pool: 5, episode: true });
    receiver.receive({ at: 300, alerts: [{ alert: 'ShadowscalePredictedOverload', status: 'resolved', startsAt: 0 }] }, 300_000);
    expect(receiver.desired(599_000, { desiredReplicas: 3, shadowPoolSize: 1 }).floor).toBe(12);
    expect(receiver.desired(600_000, { desiredReplicas: 3, shadowPoolSize: 1 })).toEqual({ floor: 2, pool: 1, episode: false });
    expect(receiver.floorWrites).toBe(2);
  });
});
