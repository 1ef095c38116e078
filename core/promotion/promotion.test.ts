import { describe, expect, it } from 'vitest';

import { decide, emptyMemory, nextStep, recordAlerts, recordMove, type DesiredState, type Limits, type ObservedState, type WorkloadMemory } from './promotion.ts';

const MIN = 60_000;
const limits: Limits = {
  primary: { name: 'checkout', minReplicas: 2, maxReplicas: 50 },
  shadow: { name: 'checkout-shadow', minReplicas: 1, maxReplicas: 20, mirrorPercent: 10, resourceFraction: 1 },
  cooldownMs: 5 * MIN,
  prescaleMaxMs: 60 * MIN,
  minHoldMs: 10 * MIN,
  maxRoleChangesPerHour: 2,
  drainMs: 0,
};
const T0 = Date.parse('2026-11-23T08:00:00Z');
const alert = (fingerprint: string, action: 'prescale' | 'promote' | 'demote' | 'restart', status: 'firing' | 'resolved', startsAt = '2026-11-23T07:59:00Z') => ({
  fingerprint,
  alertname: action === 'promote' ? 'ShadowscalePrimaryDegraded' : action === 'prescale' ? 'ShadowscaleLoadAnomaly' : action === 'restart' ? 'ShadowscaleShadowDegraded' : 'Demote',
  action,
  status,
  startsAt,
});

describe('recordAlerts', () => {
  it('returns the same memory for a duplicate, so a retried webhook is not news', () => {
    const once = recordAlerts(emptyMemory(), [alert('a', 'prescale', 'firing')], T0);
    expect(recordAlerts(once, [alert('a', 'prescale', 'firing')], T0 + 1000)).toBe(once);
    expect(recordAlerts(once, [alert('a', 'prescale', 'resolved')], T0 + 1000)).not.toBe(once);
  });
  it('ignores a late notification about an earlier firing of the same alert', () => {
    const current = recordAlerts(emptyMemory(), [alert('a', 'prescale', 'firing', '2026-11-23T07:59:00Z')], T0);
    const late = recordAlerts(current, [alert('a', 'prescale', 'resolved', '2026-11-23T07:00:00Z')], T0 + 1000);
    expect(late).toBe(current);
  });
});

describe('decide', () => {
  it('is the planned state when nothing fires', () => {
    const { desired } = decide(emptyMemory(), limits, { now: T0, shadowReady: true });
    expect(desired).toMatchObject({ active: 'checkout', standby: 'checkout-shadow', floor: 2, pool: 1, swapped: false });
  });

  it('prescale raises pool and floor to the captured plan, bounded, and holds them for the cooldown after resolve', () => {
    let memory = recordAlerts(emptyMemory(), [alert('a', 'prescale', 'firing')], T0);
    let d = decide(memory, limits, { now: T0, shadowReady: false }, { desiredReplicas: 80, shadowPoolSize: 6 });
    expect(d.desired).toMatchObject({ floor: 50, pool: 6 });
    memory = d.memory;
    // The plan moves, the episode keeps what it captured.
    d = decide(memory, limits, { now: T0 + MIN, shadowReady: false }, { desiredReplicas: 3, shadowPoolSize: 1 });
    expect(d.desired).toMatchObject({ floor: 50, pool: 6 });
    memory = recordAlerts(d.memory, [alert('a', 'prescale', 'resolved')], T0 + 2 * MIN);
    expect(decide(memory, limits, { now: T0 + 6 * MIN, shadowReady: false }).desired).toMatchObject({ floor: 50, pool: 6 });
    const after = decide(memory, limits, { now: T0 + 8 * MIN, shadowReady: false });
    expect(after.desired).toMatchObject({ floor: 2, pool: 1 });
    expect(after.memory.prescalePlan).toBeUndefined();
  });

  it('bounds the time a firing prescale keeps the floor raised', () => {
    const memory = recordAlerts(emptyMemory(), [alert('a', 'prescale', 'firing', new Date(T0).toISOString())], T0);
    expect(decide(memory, limits, { now: T0 + 59 * MIN, shadowReady: false }, { desiredReplicas: 9, shadowPoolSize: 4 }).desired.floor).toBe(9);
    expect(decide(memory, limits, { now: T0 + 61 * MIN, shadowReady: false }, { desiredReplicas: 9, shadowPoolSize: 4 }).desired.floor).toBe(2);
  });

  it('without a plan raises the pool to its maximum and leaves the floor', () => {
    const memory = recordAlerts(emptyMemory(), [alert('a', 'prescale', 'firing')], T0);
    expect(decide(memory, limits, { now: T0, shadowReady: false }).desired).toMatchObject({ floor: 2, pool: 20 });
  });

  it('promotes only a ready shadow, reverts after resolve and cooldown, and never flaps', () => {
    let memory: WorkloadMemory = recordAlerts(emptyMemory(), [alert('p', 'promote', 'firing')], T0);
    const unready = decide(memory, limits, { now: T0, shadowReady: false });
    expect(unready.desired.swapped).toBe(false);
    expect(unready.desired.reasons.join()).toMatch(/not ready/);

    let d = decide(memory, limits, { now: T0, shadowReady: true });
    expect(d.desired).toMatchObject({ active: 'checkout-shadow', standby: 'checkout', swapped: true, floor: 2, pool: 1 });
    memory = d.memory;
    // Decided, not yet moved: no role change is counted until traffic moves.
    expect(memory.roleChanges).toEqual([]);
    memory = recordMove(memory, 'checkout-shadow', 'checkout', T0);
    expect(memory.roleChanges).toEqual([T0]);
    // Deciding again changes nothing.
    expect(decide(memory, limits, { now: T0 + 1000, shadowReady: true }).memory).toEqual(memory);

    memory = recordAlerts(memory, [alert('p', 'promote', 'resolved')], T0 + 2 * MIN);
    d = decide(memory, limits, { now: T0 + 4 * MIN, shadowReady: true });
    expect(d.desired.swapped).toBe(true); // cooldown
    d = decide(memory, limits, { now: T0 + 8 * MIN, shadowReady: true });
    expect(d.desired.swapped).toBe(true); // minimum hold (10 min since the swap)
    expect(d.desired.reasons.join()).toMatch(/minimum hold/);
    d = decide(memory, limits, { now: T0 + 11 * MIN, shadowReady: true });
    expect(d.desired).toMatchObject({ swapped: false, active: 'checkout' });
    memory = recordMove(d.memory, 'checkout', 'checkout', T0 + 11 * MIN);

    // A new firing within the hour: the rate limit (2 changes per hour) holds it.
    memory = recordAlerts(memory, [alert('p', 'promote', 'firing', new Date(T0 + 20 * MIN).toISOString())], T0 + 22 * MIN);
    d = decide(memory, limits, { now: T0 + 22 * MIN, shadowReady: true });
    expect(d.desired.swapped).toBe(false);
    expect(d.desired.reasons.join()).toMatch(/2 role changes in the last hour/);
    expect(decide(memory, limits, { now: T0 + 61 * MIN, shadowReady: true }).desired.swapped).toBe(true);
  });

  it('a demote alert returns the roles without waiting for the cooldown', () => {
    let memory = recordAlerts(emptyMemory(), [alert('p', 'promote', 'firing')], T0);
    memory = recordMove(decide(memory, limits, { now: T0, shadowReady: true }).memory, 'checkout-shadow', 'checkout', T0);
    memory = recordAlerts(memory, [alert('d', 'demote', 'firing')], T0 + 11 * MIN);
    expect(decide(memory, limits, { now: T0 + 11 * MIN, shadowReady: true }).desired.swapped).toBe(false);
  });
});

describe('a degraded shadow', () => {
  const observed: ObservedState = {
    replicas: { checkout: { spec: 4, ready: 4 }, 'checkout-shadow': { spec: 1, ready: 1 } },
    autoscaler: { target: 'checkout', minReplicas: 2 },
    route: { active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10 },
  };

  it('is restarted once per episode of its alerts, and a later firing restarts it again', () => {
    const memory = recordAlerts(emptyMemory(), [alert('d', 'restart', 'firing', '2026-11-23T07:50:00Z')], T0);
    const { desired } = decide(memory, limits, { now: T0, shadowReady: false });
    expect(desired.restart).toEqual({ set: 'checkout-shadow', since: '2026-11-23T07:50:00Z' });
    expect(nextStep(observed, desired)).toMatchObject({ kind: 'restart', set: 'checkout-shadow', at: '2026-11-23T07:50:00Z' });
    const restarted = { ...observed, restartedAt: { 'checkout-shadow': '2026-11-23T08:00:01Z' } };
    expect(nextStep(restarted, desired)).toEqual({ kind: 'done' });
    // The other reason fires too, after the restart: the episode is the same, no second restart.
    const both = recordAlerts(memory, [alert('l', 'restart', 'firing', '2026-11-23T08:00:30Z')], T0 + MIN);
    expect(nextStep(restarted, decide(both, limits, { now: T0 + MIN, shadowReady: false }).desired)).toEqual({ kind: 'done' });
    // Resolved, then firing again later: one more restart.
    const again = recordAlerts(recordAlerts(memory, [alert('d', 'restart', 'resolved', '2026-11-23T07:50:00Z')], T0 + MIN), [alert('d', 'restart', 'firing', '2026-11-23T08:30:00Z')], T0 + 31 * MIN);
    expect(nextStep(restarted, decide(again, limits, { now: T0 + 31 * MIN, shadowReady: false }).desired)).toMatchObject({ kind: 'restart' });
    // Resolved: nothing to do.
    const resolved = recordAlerts(memory, [alert('d', 'restart', 'resolved', '2026-11-23T07:50:00Z')], T0 + MIN);
    expect(decide(resolved, limits, { now: T0 + MIN, shadowReady: false }).desired.restart).toBeUndefined();
  });

  it('is never promoted, even when the readiness signal says ready', () => {
    const memory = recordAlerts(emptyMemory(), [alert('d', 'restart', 'firing'), alert('p', 'promote', 'firing')], T0);
    const { desired } = decide(memory, limits, { now: T0, shadowReady: true });
    expect(desired.swapped).toBe(false);
    expect(desired.reasons.join('; ')).toMatch(/shadow is degraded/);
  });

  it('is not restarted while it serves the traffic', () => {
    let memory = recordAlerts(emptyMemory(), [alert('p', 'promote', 'firing')], T0);
    memory = recordMove(decide(memory, limits, { now: T0, shadowReady: true }).memory, 'checkout-shadow', 'checkout', T0);
    expect(memory.swapped).toBe(true);
    memory = recordAlerts(memory, [alert('d', 'restart', 'firing')], T0 + MIN);
    const { desired } = decide(memory, limits, { now: T0 + MIN, shadowReady: true });
    expect(desired.restart).toBeUndefined();
    expect(desired.reasons.join('; ')).toMatch(/serves the traffic now; not restarted/);
  });
});

describe('nextStep', () => {
  const desiredSwap: DesiredState = { active: 'checkout-shadow', standby: 'checkout', floor: 2, ceiling: 50, podSize: { checkout: 1, 'checkout-shadow': 1 }, drainUntil: 0, pool: 1, poolRange: false, idle: false, mirrorPercent: 10, spill: 0, swapped: true, reasons: [] };
  const before: ObservedState = {
    replicas: { checkout: { spec: 6, ready: 6 }, 'checkout-shadow': { spec: 1, ready: 1 } },
    autoscaler: { target: 'checkout', minReplicas: 2 },
    route: { active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10 },
  };

  it('walks a swap without ever dropping serving capacity', () => {
    let observed = structuredClone(before);
    const steps: string[] = [];
    for (let i = 0; i < 10; i++) {
      const step = nextStep(observed, desiredSwap);
      if (step.kind === 'done') break;
      steps.push(step.kind === 'wait' ? 'wait' : step.kind === 'scale' ? `scale ${step.set}=${step.replicas}` : step.kind === 'route' ? `route ${step.active}` : step.kind === 'autoscaler' ? `autoscaler ${step.target}/${step.minReplicas}` : `restart ${step.set}`);
      // Apply it; pods become ready one step after being asked for.
      if (step.kind === 'scale') observed.replicas[step.set] = { spec: step.replicas, ready: observed.replicas[step.set].ready };
      if (step.kind === 'wait') for (const r of Object.values(observed.replicas)) r.ready = r.spec;
      if (step.kind === 'route') observed.route = { active: step.active, mirror: step.mirror, mirrorPercent: step.mirrorPercent };
      if (step.kind === 'autoscaler') observed.autoscaler = { target: step.target, minReplicas: step.minReplicas };
      // The serving set always has at least the 6 ready replicas it started with.
      const serving = observed.route!.active;
      expect(observed.replicas[serving].ready).toBeGreaterThanOrEqual(6);
    }
    expect(steps).toEqual(['scale checkout-shadow=6', 'wait', 'route checkout-shadow', 'autoscaler checkout-shadow/2', 'scale checkout=1']);
    expect(nextStep(observed, desiredSwap)).toEqual({ kind: 'done' });
  });

  it('settles a route that mirrors nothing when no mirror is wanted, and removes a mirror that is not', () => {
    const desired: DesiredState = { active: 'checkout', standby: 'checkout-shadow', floor: 2, ceiling: 50, podSize: { checkout: 1, 'checkout-shadow': 1 }, drainUntil: 0, pool: 1, poolRange: true, idle: true, mirrorPercent: 0, spill: 0, swapped: false, reasons: [] };
    // What a router reports once it mirrors nothing: no mirror target.
    const unmirrored: ObservedState = { ...before, route: { active: 'checkout', mirrorPercent: 0 } };
    expect(nextStep(unmirrored, desired)).toEqual({ kind: 'done' });
    expect(nextStep(before, desired)).toMatchObject({ kind: 'route', active: 'checkout', mirrorPercent: 0 });
  });

  it('continues a half-done swap from where the cluster stands', () => {
    const midway: ObservedState = {
      replicas: { checkout: { spec: 6, ready: 6 }, 'checkout-shadow': { spec: 6, ready: 6 } },
      autoscaler: { target: 'checkout', minReplicas: 2 },
      route: { active: 'checkout-shadow', mirror: 'checkout', mirrorPercent: 10 },
    };
    expect(nextStep(midway, desiredSwap)).toMatchObject({ kind: 'autoscaler', target: 'checkout-shadow', minReplicas: 2 });
  });

  it('raises the floor through the autoscaler, or by scaling when there is none', () => {
    const desired: DesiredState = { active: 'checkout', standby: 'checkout-shadow', floor: 9, ceiling: 50, podSize: { checkout: 1, 'checkout-shadow': 1 }, drainUntil: 0, pool: 4, poolRange: true, idle: true, mirrorPercent: 10, spill: 0, swapped: false, reasons: [] };
    expect(nextStep(before, desired)).toMatchObject({ kind: 'autoscaler', target: 'checkout', minReplicas: 9 });
    const { autoscaler: _a, ...noAutoscaler } = before;
    expect(nextStep(noAutoscaler, desired)).toMatchObject({ kind: 'scale', set: 'checkout', replicas: 9 });
    const floored: ObservedState = { ...before, autoscaler: { target: 'checkout', minReplicas: 9 } };
    expect(nextStep(floored, desired)).toMatchObject({ kind: 'scale', set: 'checkout-shadow', replicas: 4 });
  });
});

describe('nextStep with an autoscaler that bounds its floor', () => {
  it('asks for the floor the autoscaler can hold, so reconciliation ends', () => {
    const desired: DesiredState = { active: 'checkout', standby: 'checkout-shadow', floor: 80, ceiling: 20, podSize: { checkout: 1, 'checkout-shadow': 1 }, drainUntil: 0, pool: 1, poolRange: true, idle: true, mirrorPercent: 10, spill: 0, swapped: false, reasons: [] };
    const observed: ObservedState = { replicas: { checkout: { spec: 6, ready: 6 }, 'checkout-shadow': { spec: 1, ready: 1 } }, autoscaler: { target: 'checkout', minReplicas: 2, maxReplicas: 20, lowest: 1 } };
    expect(nextStep(observed, desired)).toMatchObject({ kind: 'autoscaler', minReplicas: 20 });
    observed.autoscaler!.minReplicas = 20;
    expect(nextStep(observed, desired)).toEqual({ kind: 'done' });
    expect(nextStep({ ...observed, autoscaler: { target: 'checkout', minReplicas: 1, lowest: 1 } }, { ...desired, floor: 0 })).toEqual({ kind: 'done' });
  });
});

describe('a promotion that keeps the serving capacity (shadows at half resources)', () => {
  const half: Limits = { ...limits, shadow: { ...limits.shadow, resourceFraction: 0.5 } };
  const apply = (observed: ObservedState, step: ReturnType<typeof nextStep>) => {
    if (step.kind === 'scale') observed.replicas[step.set] = { spec: step.replicas, ready: observed.replicas[step.set].ready };
    if (step.kind === 'wait') for (const r of Object.values(observed.replicas)) r.ready = r.spec;
    if (step.kind === 'route') observed.route = { active: step.active, mirror: step.mirror, mirrorPercent: step.mirrorPercent };
    if (step.kind === 'autoscaler') observed.autoscaler = { ...observed.autoscaler!, target: step.target, minReplicas: step.minReplicas, ...(step.maxReplicas !== undefined ? { maxReplicas: step.maxReplicas } : {}) };
  };
  const capacity = (observed: ObservedState, desired: DesiredState) => observed.replicas[observed.route!.active].ready * desired.podSize[observed.route!.active];

  it('grows the shadow to twice the pods before it takes the traffic, and scales the autoscaler for its pods', () => {
    const memory = recordAlerts(emptyMemory(), [alert('p', 'promote', 'firing')], T0);
    const { desired } = decide(memory, half, { now: T0, shadowReady: true });
    expect(desired).toMatchObject({ active: 'checkout-shadow', floor: 4, ceiling: 100, podSize: { checkout: 1, 'checkout-shadow': 0.5 } });
    const observed: ObservedState = {
      replicas: { checkout: { spec: 20, ready: 20 }, 'checkout-shadow': { spec: 1, ready: 1 } },
      autoscaler: { target: 'checkout', minReplicas: 2, maxReplicas: 50, lowest: 1 },
      route: { active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10 },
    };
    const steps: string[] = [];
    for (let i = 0; i < 10; i++) {
      const step = nextStep(observed, desired);
      if (step.kind === 'done') break;
      steps.push(step.kind === 'scale' ? `scale ${step.set}=${step.replicas}` : step.kind === 'autoscaler' ? `autoscaler ${step.target} ${step.minReplicas}-${step.maxReplicas}` : step.kind);
      apply(observed, step);
      // What serves has at least the capacity of the 20 full pods it started with.
      expect(capacity(observed, desired)).toBeGreaterThanOrEqual(20);
    }
    expect(steps).toEqual(['scale checkout-shadow=40', 'wait', 'route', 'autoscaler checkout-shadow 4-100', 'scale checkout=1']);
  });

  it('sizes the revert by the capacity the shadow serves, not its pod count', () => {
    const memory = recordMove({ ...emptyMemory(), swapped: true }, 'checkout-shadow', 'checkout', T0 - 60 * MIN);
    const { desired } = decide(memory, half, { now: T0, shadowReady: true });
    expect(desired).toMatchObject({ active: 'checkout', floor: 2, ceiling: 50, swapped: false });
    const observed: ObservedState = {
      replicas: { checkout: { spec: 1, ready: 1 }, 'checkout-shadow': { spec: 40, ready: 40 } },
      autoscaler: { target: 'checkout-shadow', minReplicas: 4, maxReplicas: 100, lowest: 1 },
      route: { active: 'checkout-shadow', mirror: 'checkout', mirrorPercent: 10 },
    };
    expect(nextStep(observed, desired)).toMatchObject({ kind: 'scale', set: 'checkout', replicas: 20 });
  });

  it('never moves traffic to a set without a ready pod, even from a set scaled to zero', () => {
    const zero: Limits = { ...half, primary: { ...half.primary, minReplicas: 0 } };
    const memory = recordAlerts(emptyMemory(), [alert('p', 'promote', 'firing')], T0);
    const { desired } = decide(memory, zero, { now: T0, shadowReady: true });
    const observed: ObservedState = {
      replicas: { checkout: { spec: 0, ready: 0 }, 'checkout-shadow': { spec: 0, ready: 0 } },
      route: { active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10 },
    };
    expect(nextStep(observed, desired)).toMatchObject({ kind: 'scale', set: 'checkout-shadow', replicas: 1 });
    observed.replicas['checkout-shadow'] = { spec: 1, ready: 0 };
    expect(nextStep(observed, desired)).toMatchObject({ kind: 'wait' });
  });
});

describe('a swap decided but not yet moved', () => {
  it('uses no role-change budget while it waits, and counts once traffic moves', () => {
    let memory = recordAlerts(emptyMemory(), [alert('p', 'promote', 'firing')], T0);
    memory = decide(memory, limits, { now: T0, shadowReady: true }).memory;
    // An hour of waiting for replicas (decisions again and again): nothing counted.
    for (let t = T0; t < T0 + 60 * MIN; t += 5 * MIN) memory = decide(memory, limits, { now: t, shadowReady: true }).memory;
    expect(memory.roleChanges).toEqual([]);
    memory = recordMove(memory, 'checkout-shadow', 'checkout', T0 + 60 * MIN);
    expect(memory.roleChanges).toEqual([T0 + 60 * MIN]);
  });

  it('is cancelled when the shadow degrades, and held (grown, traffic kept) while it is not ready, before traffic moves', () => {
    let memory = recordAlerts(emptyMemory(), [alert('p', 'promote', 'firing')], T0);
    memory = decide(memory, limits, { now: T0, shadowReady: true }).memory;
    expect(memory.swapped).toBe(true);
    const degraded = recordAlerts(memory, [alert('d', 'restart', 'firing')], T0 + MIN);
    const d1 = decide(degraded, limits, { now: T0 + MIN, shadowReady: true });
    expect(d1.desired).toMatchObject({ swapped: false, active: 'checkout' });
    expect(d1.desired.reasons.join('; ')).toMatch(/cancelled before traffic moved, the shadow is degraded/);
    const d2 = decide(memory, limits, { now: T0 + MIN, shadowReady: false });
    expect(d2.desired).toMatchObject({ swapped: true, active: 'checkout-shadow', hold: 'the shadow is not ready (again); traffic moves once it is' });
    const growing: ObservedState = {
      replicas: { checkout: { spec: 6, ready: 6 }, 'checkout-shadow': { spec: 1, ready: 1 } },
      route: { active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10 },
    };
    // The shadow is still grown for the swap; the route step waits.
    expect(nextStep(growing, d2.desired)).toMatchObject({ kind: 'scale', set: 'checkout-shadow', replicas: 6 });
    growing.replicas['checkout-shadow'] = { spec: 6, ready: 6 };
    expect(nextStep(growing, d2.desired)).toEqual({ kind: 'wait', why: 'traffic stays on checkout: the shadow is not ready (again); traffic moves once it is' });
    expect(nextStep(growing, decide(memory, limits, { now: T0 + 2 * MIN, shadowReady: true }).desired)).toMatchObject({ kind: 'route', active: 'checkout-shadow' });
    // The alerts resolve while it is held: cancelled, the shadow shrinks back.
    const resolved = recordAlerts(d2.memory, [alert('p', 'promote', 'resolved')], T0 + 3 * MIN);
    expect(decide(resolved, limits, { now: T0 + 3 * MIN, shadowReady: false }).desired).toMatchObject({ swapped: false, active: 'checkout' });
    // Once traffic has moved, the same signals no longer undo it (a revert has its own conditions).
    const moved = recordMove(memory, 'checkout-shadow', 'checkout', T0);
    expect(decide(moved, limits, { now: T0 + MIN, shadowReady: false }).desired.swapped).toBe(true);
  });
});

describe('one notion of the shadow size shared with the warm pool', () => {
  const observed = (shadow: number, poolMax?: number): ObservedState => ({
    replicas: { checkout: { spec: 6, ready: 6 }, 'checkout-shadow': { spec: shadow, ready: shadow } },
    autoscaler: { target: 'checkout', minReplicas: 2 },
    route: { active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10 },
    ...(poolMax !== undefined ? { poolMax } : {}),
  });

  it('leaves a warm pool anywhere from the minimum to its maximum while traffic is settled on the primary', () => {
    const { desired } = decide(emptyMemory(), limits, { now: T0, shadowReady: true });
    expect(desired).toMatchObject({ pool: 1, poolRange: true, idle: true });
    expect(nextStep(observed(4, 6), desired)).toEqual({ kind: 'done' });
    expect(nextStep(observed(9, 6), desired)).toMatchObject({ kind: 'scale', set: 'checkout-shadow', replicas: 6, from: 9 });
    expect(nextStep(observed(0, 6), desired)).toMatchObject({ kind: 'scale', set: 'checkout-shadow', replicas: 1, from: 0 });
    // Without a warm pool the shadow is held at its size exactly.
    expect(nextStep(observed(4), desired)).toMatchObject({ kind: 'scale', set: 'checkout-shadow', replicas: 1, from: 4 });
  });

  it('is not idle while an alert fires, during a prescale cooldown, or while swapped: the warm pool keeps off', () => {
    let memory = recordAlerts(emptyMemory(), [alert('a', 'prescale', 'firing')], T0);
    expect(decide(memory, limits, { now: T0, shadowReady: true }).desired).toMatchObject({ idle: false, poolRange: true });
    memory = recordAlerts(memory, [alert('a', 'prescale', 'resolved')], T0 + MIN);
    expect(decide(memory, limits, { now: T0 + 2 * MIN, shadowReady: true }).desired.idle).toBe(false);
    expect(decide(memory, limits, { now: T0 + 7 * MIN, shadowReady: true }).desired.idle).toBe(true);
    const swapped = recordMove({ ...emptyMemory(), swapped: true }, 'checkout-shadow', 'checkout', T0 - 60 * MIN);
    expect(decide(swapped, limits, { now: T0, shadowReady: true }).desired).toMatchObject({ idle: false, poolRange: false });
  });
});

describe('spill-over in the desired state and the steps', () => {
  const spilling = (share: number) => ({ ...emptyMemory(), spill: { share, changedAt: T0 } });

  it('keeps the share while traffic is settled on the primary, and withdraws it for a role change or a degraded shadow', () => {
    const settled = decide(spilling(0.2), limits, { now: T0, shadowReady: true });
    expect(settled.desired.spill).toBe(0.2);
    // Not idle: the warm pool must not shrink a standby that takes live traffic.
    expect(settled.desired.idle).toBe(false);
    expect(decide(emptyMemory(), limits, { now: T0, shadowReady: true }).desired.idle).toBe(true);
    expect(settled.desired.reasons.join('; ')).toMatch(/spill: 20 % of live traffic to checkout-shadow/);
    const promoting = decide(recordAlerts(spilling(0.2), [alert('p', 'promote', 'firing')], T0), limits, { now: T0, shadowReady: true });
    expect(promoting.desired.swapped).toBe(true);
    expect(promoting.desired.spill).toBe(0);
    expect(promoting.desired.reasons.join('; ')).toMatch(/spill: withdrawn while the roles change/);
    const degraded = decide(recordAlerts(spilling(0.2), [alert('d', 'restart', 'firing')], T0), limits, { now: T0, shadowReady: true });
    expect(degraded.desired.spill).toBe(0);
    expect(degraded.desired.reasons.join('; ')).toMatch(/spill: withdrawn, the shadow is degraded/);
  });

  const desired = (spill: number): DesiredState => ({ active: 'checkout', standby: 'checkout-shadow', floor: 2, ceiling: 50, podSize: { checkout: 1, 'checkout-shadow': 0.5 }, drainUntil: 0, pool: 1, poolRange: true, idle: false, mirrorPercent: 10, spill, swapped: false, reasons: [] });
  const settledRoute: ObservedState = {
    replicas: { checkout: { spec: 6, ready: 6 }, 'checkout-shadow': { spec: 3, ready: 3 } },
    autoscaler: { target: 'checkout', minReplicas: 2 },
    route: { active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10, spill: 0 },
  };

  it('splits the route without the mirror, settles on the split, and ends it with the mirror back', () => {
    expect(nextStep(settledRoute, desired(0.2))).toMatchObject({ kind: 'route', active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 0, spill: 0.2 });
    const split: ObservedState = { ...settledRoute, route: { active: 'checkout', mirrorPercent: 0, spill: 0.2 } };
    // Settled: the pool (1) would shrink the standby (3), but not while it takes live traffic.
    expect(nextStep(split, desired(0.2))).toEqual({ kind: 'done' });
    expect(nextStep(split, { ...desired(0.2), spill: 0 })).toMatchObject({ kind: 'route', spill: 0 });
    const unsplit: ObservedState = { ...settledRoute, route: { active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10, spill: 0 } };
    expect(nextStep(unsplit, desired(0))).toMatchObject({ kind: 'scale', set: 'checkout-shadow', replicas: 1 });
    const ended = nextStep(split, desired(0));
    expect(ended).toMatchObject({ kind: 'route', active: 'checkout', mirrorPercent: 10, spill: 0 });
    expect((ended as { why: string }).why).toMatch(/spill-over ends/);
  });

  it('moves the whole of the traffic in a swap, whatever the split', () => {
    const split: ObservedState = { ...settledRoute, replicas: { checkout: { spec: 6, ready: 6 }, 'checkout-shadow': { spec: 12, ready: 12 } }, route: { active: 'checkout', mirrorPercent: 0, spill: 0.3 } };
    const swap: DesiredState = { ...desired(0), active: 'checkout-shadow', standby: 'checkout', swapped: true, poolRange: false };
    expect(nextStep(split, swap)).toMatchObject({ kind: 'route', active: 'checkout-shadow', spill: 0, mirrorPercent: 10 });
  });
});
