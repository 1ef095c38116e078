/**
 * Promotion: the alerts the receiver has been told about, the shadow's readiness and the planner's
 * numbers in; the desired state of a workload out (which set is primary, HPA floor, shadow pool size,
 * mirror share). Then, given what the cluster looks like now, the single next step towards that state.
 *
 * Pure and declarative: the receiver keeps only the alerts and the record of past role changes, and
 * recomputes everything else. A duplicated webhook leaves the memory unchanged, so the desired state is
 * unchanged and the next step is "nothing"; a restart in the middle of a swap observes the cluster
 * again and continues from where it stands.
 */

export type AlertAction = 'prescale' | 'promote' | 'demote' | 'restart' | 'none';

/** What the receiver remembers of one alert (one fingerprint). */
export interface AlertRecord {
  alertname: string;
  action: AlertAction;
  reason?: string;
  status: 'firing' | 'resolved';
  /** Alertmanager's startsAt (RFC 3339), part of the alert's identity: a new firing has a new one. */
  startsAt: string;
  /** When the receiver first learnt this status (ms since epoch). */
  since: number;
}

/** The planner's numbers for the workload, read when a prescale begins and kept for its duration. */
export interface PlanSnapshot {
  desiredReplicas: number;
  shadowPoolSize: number;
}

/** Everything the receiver keeps per workload; small, serialisable, and the only state it persists. */
export interface WorkloadMemory {
  alerts: Record<string, AlertRecord>;
  /** True while the configured shadow set serves the traffic and the configured primary is the shadow. */
  swapped: boolean;
  /**
   * Times of past role changes (ms), newest last: when traffic moved (recordMove), not when a swap was
   * decided, so a swap stuck waiting for replicas uses up no budget. The rate limit and minimum hold read it.
   */
  roleChanges: number[];
  /** The plan captured when the current prescale episode began. */
  prescalePlan?: PlanSnapshot;
  /**
   * Spill-over in force (core/promotion/spill.ts): the share of live traffic the standby takes while
   * the serving set is short of the plan, and when it last changed (ms). Absent: none.
   */
  spill?: { share: number; changedAt: number };
  /**
   * The set that receives the live traffic, as the receiver last moved it (or found it): changes in
   * the step that moves traffic, not when a swap is decided. Absent: the configured primary. The
   * rules read it (shadowscale_workload_serving_share) to know which Deployment is the primary.
   */
  serving?: string;
}

export function emptyMemory(): WorkloadMemory {
  return { alerts: {}, swapped: false, roleChanges: [] };
}

/**
 * The memory after traffic moved to (or was found on) `set`: the set that serves, and a role change
 * stamped now when it is a change. Returns the same object when nothing changed.
 */
export function recordMove(memory: WorkloadMemory, set: string, primary: string, now: number): WorkloadMemory {
  const before = memory.serving ?? primary;
  if (before === set && memory.serving !== undefined) return memory;
  if (before === set) return { ...memory, serving: set };
  return { ...memory, serving: set, roleChanges: [...memory.roleChanges.filter((t) => now - t < HOUR_MS), now] };
}

export interface Limits {
  /** Replicas counted in the primary's pods (full resources). */
  primary: { name: string; minReplicas: number; maxReplicas: number };
  /**
   * The shadow's pods run `resourceFraction` of a primary pod's resources (requests and limits), so
   * the shadow set serves the primary's traffic with 1 ÷ fraction as many pods.
   */
  shadow: { name: string; minReplicas: number; maxReplicas: number; mirrorPercent: number; resourceFraction: number };
  /** How long after the last prescale alert resolves the floor and pool stay raised. */
  cooldownMs: number;
  /** The longest a prescale keeps the floor raised, however long its alert fires. */
  prescaleMaxMs: number;
  /** Minimum time between two role changes of the workload. */
  minHoldMs: number;
  /** At most this many role changes in any hour. */
  maxRoleChangesPerHour: number;
  /** After traffic moves, the old set keeps its replicas and the autoscaler its target this long. */
  drainMs: number;
}

export interface Signals {
  now: number;
  /**
   * The standby set is ready to take the traffic (readiness KPI, which always measures the set that
   * stands by): the configured shadow before a promotion, the configured primary before a revert.
   */
  shadowReady: boolean;
}

export interface DesiredState {
  /** The set that receives the traffic, and the set that receives the mirror. */
  active: string;
  standby: string;
  /** Floor of the autoscaler of the active set (HPA minReplicas / ScaledObject minReplicaCount), in its own pods. */
  floor: number;
  /** Ceiling of that autoscaler (maxReplicas), in the active set's pods: the primary's maximum, scaled for a shadow's smaller pods. */
  ceiling: number;
  /** Resources of one pod of each set as a fraction of a primary pod's: what a replica of each is worth. */
  podSize: Record<string, number>;
  /** Until when (ms) the last move of the traffic drains: no retarget, no shrink of the old set before. */
  drainUntil: number;
  /** Replicas of the standby set (the shadow pool): its size, or its least size when `poolRange`. */
  pool: number;
  /**
   * Traffic is settled on the configured primary and the shadow stands by: the shadow may hold more
   * than `pool`, up to the warm pool's maximum (ObservedState.poolMax), and is not shrunk below it. A
   * warm pool's pods are not deleted by the receiver.
   */
  poolRange: boolean;
  /**
   * Nothing to act on: no alert firing, no prescale episode (cooldown included), no swap, pending or
   * done, and the last move drained. Only then may the warm pool change the shadow's size itself.
   */
  idle: boolean;
  /** The configured mirror share; the route mirrors nothing while a share spills. */
  mirrorPercent: number;
  /**
   * The share of live traffic the route sends to the standby (spill-over): the memory's, while traffic
   * is settled on the configured primary and its shadow is not degraded; 0 otherwise (a role change
   * withdraws it first).
   */
  spill: number;
  swapped: boolean;
  /** A swap decided but held: its incoming set may grow, but traffic does not move while this says why. */
  hold?: string;
  /**
   * A degraded shadow to restart: its pods must have been restarted at or after `since`, the startsAt
   * of the earliest restart alert still firing. One restart per episode: a second alert (the other
   * reason) that fires while the first still does asks for nothing more; a new firing after all
   * resolved asks for a new restart.
   */
  restart?: { set: string; since: string };
  /** Why the state is what it is, for the audit log and the status endpoint. */
  reasons: string[];
}

export interface Decision {
  desired: DesiredState;
  /** The memory after the decision (a role change is recorded in it). */
  memory: WorkloadMemory;
}

/** Keys of alert records older than this and resolved are forgotten. */
const FORGET_RESOLVED_MS = 24 * 3_600_000;
const HOUR_MS = 3_600_000;

/**
 * Alert records kept per workload. A workload has a handful of alerts (one per alert name and reason);
 * the bound keeps its memory far below what one ConfigMap holds (1 MiB) whatever a sender posts:
 * records are at most ~0.7 KB (fingerprint ≤ 128, label values ≤ 253 characters).
 */
export const MAX_ALERTS_PER_WORKLOAD = 256;

/** A webhook would make a workload's memory hold more alert records than the bound. */
export class AlertLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlertLimitError';
  }
}

/**
 * Merges a webhook's alerts into the memory. Returns the same object when nothing changed, so the
 * caller can tell a duplicate from news. An update older than what is known (a resolved notification
 * of an earlier firing delivered after the new firing) is ignored. Past MAX_ALERTS_PER_WORKLOAD
 * records, the oldest resolved ones are forgotten first; if firing ones alone exceed it, the whole
 * update is refused (AlertLimitError) and the memory is left as it was.
 */
export function recordAlerts(
  memory: WorkloadMemory,
  alerts: ReadonlyArray<{ fingerprint: string; alertname: string; action: AlertAction; reason?: string; status: 'firing' | 'resolved'; startsAt: string }>,
  now: number,
): WorkloadMemory {
  let next: WorkloadMemory | undefined;
  for (const alert of alerts) {
    const known = (next ?? memory).alerts[alert.fingerprint];
    if (known && known.status === alert.status && known.startsAt === alert.startsAt) continue;
    if (known && Date.parse(alert.startsAt) < Date.parse(known.startsAt)) continue;
    next ??= { ...memory, alerts: { ...memory.alerts } };
    next.alerts[alert.fingerprint] = {
      alertname: alert.alertname,
      action: alert.action,
      ...(alert.reason !== undefined ? { reason: alert.reason } : {}),
      status: alert.status,
      startsAt: alert.startsAt,
      since: now,
    };
  }
  if (next && Object.keys(next.alerts).length > MAX_ALERTS_PER_WORKLOAD) {
    const resolved = Object.entries(next.alerts)
      .filter(([, a]) => a.status === 'resolved')
      .sort(([, a], [, b]) => a.since - b.since);
    for (const [key] of resolved) {
      if (Object.keys(next.alerts).length <= MAX_ALERTS_PER_WORKLOAD) break;
      delete next.alerts[key];
    }
    const count = Object.keys(next.alerts).length;
    if (count > MAX_ALERTS_PER_WORKLOAD) {
      throw new AlertLimitError(`${count} firing alerts for one workload, above the limit of ${MAX_ALERTS_PER_WORKLOAD} alert records per workload; its alerts in this webhook were not recorded`);
    }
  }
  return next ?? memory;
}

function firing(memory: WorkloadMemory, action: AlertAction): AlertRecord[] {
  return Object.values(memory.alerts).filter((a) => a.status === 'firing' && a.action === action);
}

function lastResolved(memory: WorkloadMemory, action: AlertAction): number | undefined {
  const times = Object.values(memory.alerts)
    .filter((a) => a.status === 'resolved' && a.action === action)
    .map((a) => a.since);
  return times.length > 0 ? Math.max(...times) : undefined;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Is a prescale episode on: an alert firing (for at most prescaleMax), or resolved within the cooldown. */
export function prescaleActive(memory: WorkloadMemory, limits: Limits, now: number): { active: boolean; why: string } {
  const on = firing(memory, 'prescale');
  if (on.length > 0) {
    const began = Math.min(...on.map((a) => Math.min(a.since, Date.parse(a.startsAt) || a.since)));
    if (now - began < limits.prescaleMaxMs) return { active: true, why: `prescale: ${names(on)} firing` };
    return { active: false, why: `prescale: ${names(on)} firing longer than the prescale limit, floor and pool back to planned` };
  }
  const resolved = lastResolved(memory, 'prescale');
  if (resolved !== undefined && now - resolved < limits.cooldownMs) {
    return { active: true, why: `prescale: resolved ${Math.round((now - resolved) / 1000)} s ago, holding for the cooldown` };
  }
  return { active: false, why: '' };
}

function names(alerts: AlertRecord[]): string {
  return [...new Set(alerts.map((a) => (a.reason ? `${a.alertname}(${a.reason})` : a.alertname)))].sort().join(', ');
}

/** Why a role change may not happen now, or undefined when it may. */
function roleChangeBlocked(memory: WorkloadMemory, limits: Limits, now: number): string | undefined {
  const last = memory.roleChanges.at(-1);
  if (last !== undefined && now - last < limits.minHoldMs) {
    return `last role change ${Math.round((now - last) / 1000)} s ago, minimum hold ${Math.round(limits.minHoldMs / 1000)} s`;
  }
  const inHour = memory.roleChanges.filter((t) => now - t < HOUR_MS).length;
  if (inHour >= limits.maxRoleChangesPerHour) return `${inHour} role changes in the last hour, the limit`;
  return undefined;
}

/**
 * The desired state. `plan` is the planner's current numbers, used (and captured into the memory)
 * when a prescale episode begins; during the episode the captured numbers hold, so a repeated decision
 * does not drift with the forecast.
 */
export function decide(memory: WorkloadMemory, limits: Limits, signals: Signals, plan?: PlanSnapshot): Decision {
  const { now } = signals;
  const reasons: string[] = [];
  let next = forgetOld(memory, now);

  // Roles. A swap is decided here and happens when traffic moves (recordMove); until then it is
  // pending, and its reasons are checked again at every decision: a pending promotion is cancelled when
  // its alerts resolve, or when the shadow is no longer ready or is degraded, and a pending revert when
  // the alerts come back or the primary, standing by, is no longer ready.
  let swapped = next.swapped;
  const promoting = firing(next, 'promote');
  const demoting = firing(next, 'demote');
  const degraded = firing(next, 'restart');
  const serving = next.serving ?? limits.primary.name;
  const pendingPromotion = swapped && serving !== limits.shadow.name;
  const pendingRevert = !swapped && serving === limits.shadow.name;
  // A pending swap whose incoming set is not ready (again) is held: traffic does not move, and the set
  // grown for it is kept, until it is ready or the swap is cancelled. Growing a set for a swap can
  // itself make its readiness dip (cold replicas); cancelling then would shrink it and start over.
  let hold: string | undefined;
  if (pendingPromotion) {
    if (promoting.length === 0 || demoting.length > 0) {
      swapped = false;
      reasons.push('promote: cancelled before traffic moved, the promote alerts resolved');
    } else if (degraded.length > 0) {
      swapped = false;
      reasons.push(`promote: cancelled before traffic moved, the shadow is degraded (${names(degraded)})`);
    } else if (!signals.shadowReady) {
      hold = `the shadow is not ready (again); traffic moves once it is`;
      reasons.push(`promote: ${names(promoting)} firing, held: ${hold}`);
    } else reasons.push(`promote: ${names(promoting)} firing and the shadow is ready; moving traffic`);
  } else if (pendingRevert) {
    if (promoting.length > 0 && demoting.length === 0) {
      swapped = true;
      reasons.push(`revert: cancelled before traffic moved, ${names(promoting)} firing again`);
    } else if (!signals.shadowReady) {
      hold = `${limits.primary.name} is not ready to serve (again); traffic moves back once it is`;
      reasons.push(`revert: held: ${hold}`);
    } else reasons.push('revert: moving traffic back');
  } else {
    if (!swapped && promoting.length > 0) {
      const blocked = roleChangeBlocked(next, limits, now);
      if (!signals.shadowReady) reasons.push(`promote: ${names(promoting)} firing, but the shadow is not ready`);
      else if (degraded.length > 0) reasons.push(`promote: ${names(promoting)} firing, but the shadow is degraded (${names(degraded)})`);
      else if (blocked) reasons.push(`promote: ${names(promoting)} firing, held: ${blocked}`);
      else {
        swapped = true;
        reasons.push(`promote: ${names(promoting)} firing and the shadow is ready`);
      }
    } else if (swapped && (promoting.length === 0 || demoting.length > 0)) {
      // Revert: the serving set's promote alerts resolved a cooldown ago, or an operator's demote alert
      // asks for it; and the configured primary, standing by and measured as the standby, is ready to
      // take the traffic back (a revert onto a primary still degraded would undo the promotion's point).
      const resolvedAt = lastResolved(next, 'promote') ?? 0;
      const blocked = roleChangeBlocked(next, limits, now);
      if (demoting.length === 0 && now - resolvedAt < limits.cooldownMs) {
        reasons.push(`revert: promote alerts resolved ${Math.round((now - resolvedAt) / 1000)} s ago, waiting for the cooldown`);
      } else if (blocked) {
        reasons.push(`revert: held: ${blocked}`);
      } else if (!signals.shadowReady) {
        reasons.push(`revert: ${demoting.length > 0 ? `${names(demoting)} firing` : 'promote alerts resolved'}, but ${limits.primary.name}, standing by, is not ready to serve`);
      } else {
        swapped = false;
        reasons.push(demoting.length > 0 ? `demote: ${names(demoting)} firing` : 'revert: promote alerts resolved and the cooldown has passed');
      }
    } else if (swapped) {
      reasons.push(`promoted: ${names(promoting)} still firing`);
    }
  }
  if (swapped !== next.swapped) next = { ...next, swapped };

  // Floor and pool.
  const episode = prescaleActive(next, limits, now);
  if (episode.why) reasons.push(episode.why);
  let floor = limits.primary.minReplicas;
  let pool = limits.shadow.minReplicas;
  if (episode.active) {
    if (!next.prescalePlan && plan) next = { ...next, prescalePlan: sanitize(plan) };
    const captured = next.prescalePlan;
    if (captured) {
      floor = clamp(captured.desiredReplicas, limits.primary.minReplicas, limits.primary.maxReplicas);
      pool = clamp(captured.shadowPoolSize, limits.shadow.minReplicas, limits.shadow.maxReplicas);
    } else {
      // No plan known: the pool goes to its bound, the floor stays (raising it blindly could cost a lot).
      pool = limits.shadow.maxReplicas;
      reasons.push('prescale: no plan available, shadow pool raised to its maximum, floor unchanged');
    }
  } else if (next.prescalePlan) {
    const { prescalePlan: _dropped, ...rest } = next;
    next = rest;
  }

  // A degraded shadow is restarted while it is the standby; once it serves, a restart would cut traffic.
  let restart: DesiredState['restart'];
  if (degraded.length > 0) {
    if (swapped) reasons.push(`restart: ${names(degraded)} firing, but the shadow serves the traffic now; not restarted`);
    else {
      const since = degraded.map((a) => a.startsAt).sort((a, b) => Date.parse(a) - Date.parse(b))[0];
      restart = { set: limits.shadow.name, since };
      reasons.push(`restart: ${names(degraded)} firing since ${since}, the shadow is restarted once`);
    }
  }

  // Spill-over only while traffic is settled on the configured primary, no swap is decided or pending,
  // and the shadow is not degraded: a role change or a restart withdraws the share first.
  const settled = !swapped && serving === limits.primary.name;
  let spill = 0;
  if (next.spill && next.spill.share > 0) {
    if (!settled) reasons.push('spill: withdrawn while the roles change');
    else if (degraded.length > 0) reasons.push(`spill: withdrawn, the shadow is degraded (${names(degraded)})`);
    else {
      spill = next.spill.share;
      reasons.push(`spill: ${Math.round(spill * 100)} % of live traffic to ${limits.shadow.name}`);
    }
  }

  const active = swapped ? limits.shadow.name : limits.primary.name;
  const standby = swapped ? limits.primary.name : limits.shadow.name;
  const podSize = { [limits.primary.name]: 1, [limits.shadow.name]: limits.shadow.resourceFraction };
  let ceiling = limits.primary.maxReplicas;
  if (swapped) {
    // The set now serving must keep at least the capacity of the configured primary floor, and may
    // grow to the capacity of its maximum: both counted in its own, smaller pods. The old primary, now
    // the standby, holds the pool, bounded by the primary's own maximum.
    floor = podsFor(Math.max(floor, limits.primary.minReplicas), limits.shadow.resourceFraction);
    ceiling = podsFor(limits.primary.maxReplicas, limits.shadow.resourceFraction);
    pool = clamp(pool, limits.shadow.minReplicas, limits.primary.maxReplicas);
  }
  const drainUntil = (next.roleChanges.at(-1) ?? 0) + limits.drainMs;
  const poolRange = !swapped && (next.serving ?? limits.primary.name) === limits.primary.name;
  // Not idle while the standby takes live traffic: the warm pool must not shrink it then.
  const idle = poolRange && !episode.active && now >= drainUntil && spill === 0 && !Object.values(next.alerts).some((a) => a.status === 'firing');
  return {
    desired: { active, standby, floor, ceiling, podSize, drainUntil, pool, poolRange, idle, mirrorPercent: limits.shadow.mirrorPercent, spill, swapped, ...(hold ? { hold } : {}), ...(restart ? { restart } : {}), reasons },
    memory: next,
  };
}

/** Why the data plane may still send traffic to the old set: the router has not taken its spec, or it drains. */
function dataPlaneSettling(observed: ObservedState, desired: DesiredState, now: number): string | undefined {
  if (observed.route?.programmed === false) return `the router has taken the new routes (${observed.route.programmedWhy ?? 'not yet'})`;
  if (now < desired.drainUntil) return `connections to the old set have drained (${Math.ceil((desired.drainUntil - now) / 1000)} s more, receiver.drain)`;
  return undefined;
}

/** Pods of `size` (a fraction of a primary pod) that give the capacity of `primaryPods` primary pods. */
export function podsFor(primaryPods: number, size: number): number {
  return Math.ceil(primaryPods / size - 1e-9);
}

function sanitize(plan: PlanSnapshot): PlanSnapshot {
  const n = (x: number) => (Number.isFinite(x) && x >= 0 ? Math.ceil(x) : 0);
  return { desiredReplicas: n(plan.desiredReplicas), shadowPoolSize: n(plan.shadowPoolSize) };
}

function forgetOld(memory: WorkloadMemory, now: number): WorkloadMemory {
  const stale = Object.entries(memory.alerts).filter(([, a]) => a.status === 'resolved' && now - a.since > FORGET_RESOLVED_MS);
  if (stale.length === 0) return memory;
  const alerts = { ...memory.alerts };
  for (const [key] of stale) delete alerts[key];
  return { ...memory, alerts };
}

// ---------------------------------------------------------------------------------------------
// Reconciliation: observed state + desired state → the one next step.

export interface ObservedState {
  /** Spec and ready replicas of each set, by name. */
  replicas: Record<string, { spec: number; ready: number }>;
  /**
   * The autoscaler of the workload, when there is one: which set it scales and its floor; and why it
   * must not be written at all (`blocks.writes`: someone else owns it) or retargeted in a swap
   * (`blocks.retarget`: its metrics are tied to one set).
   */
  autoscaler?: { target: string; minReplicas: number; maxReplicas?: number; lowest?: number; blocks?: { writes?: string; retarget?: string } };
  /**
   * The traffic router, when there is one: which set gets traffic, which the mirror, and its share; and
   * whether the data plane has taken the current spec (an HTTPRoute's Accepted and ResolvedRefs
   * conditions at its generation, from every parent): undefined when the router does not say.
   */
  route?: { active: string; mirror?: string; mirrorPercent: number; programmed?: boolean; programmedWhy?: string; spill?: number };
  /** When each set's pods were last restarted (RFC 3339), when known. */
  restartedAt?: Record<string, string | undefined>;
  /** The warm pool's maximum for the shadow (the primary's `shadowscale.io/pool-max`), where one is set. */
  poolMax?: number;
}

export type Step =
  /** `from`: the replicas observed, which the write is conditional on (not taken if they changed since). */
  | { kind: 'scale'; set: string; replicas: number; from: number; why: string }
  /** `spill`: the share of live traffic to `mirror`'s set as well (a split); 0: all to `active`. */
  | { kind: 'route'; active: string; mirror: string; mirrorPercent: number; spill: number; why: string }
  | { kind: 'autoscaler'; target: string; minReplicas: number; maxReplicas?: number; why: string }
  | { kind: 'restart'; set: string; at: string; why: string }
  | { kind: 'wait'; why: string }
  | { kind: 'done' };

/**
 * The restart stamp a target writes for a restart step: now, or the alert's start when this clock is
 * behind the alerting one (so the restart counts for that alert and is not repeated).
 */
export function restartStamp(since: string, now = Date.now()): string {
  return new Date(Math.max(now, Date.parse(since) || 0)).toISOString();
}

/**
 * The next step. Order matters, and is what makes a swap safe: the incoming set is grown to the
 * serving set's size and waited for until ready; only then does traffic move; then the autoscaler is
 * retargeted (its object and settings kept); only then does the outgoing set shrink to the pool.
 */
export function nextStep(observed: ObservedState, desired: DesiredState, now = Date.now()): Step {
  const r = (set: string) => observed.replicas[set] ?? { spec: 0, ready: 0 };
  const servingNow = observed.route?.active ?? observed.autoscaler?.target ?? desired.active;

  const blocks = observed.autoscaler?.blocks;
  if (observed.route && observed.route.active !== desired.active) {
    // A swap that would end with an autoscaler measuring the old set, or one shadowscale may not
    // write, does not start: traffic stays where it is.
    const refusal = blocks?.writes ?? blocks?.retarget;
    if (refusal) return { kind: 'wait', why: `roles cannot change: ${refusal}` };
    // Sized for the capacity the serving set has, not its pod count: a shadow's pods are smaller. And
    // never an empty set: traffic goes only where at least one pod is ready.
    const size = (set: string) => desired.podSize[set] ?? 1;
    const capacity = Math.max(r(servingNow).spec, r(servingNow).ready) * size(servingNow);
    const need = Math.max(1, podsFor(capacity, size(desired.active)), desired.floor);
    if (r(desired.active).spec < need) {
      return { kind: 'scale', set: desired.active, replicas: need, from: r(desired.active).spec, why: `grow ${desired.active} to ${need} replicas before it takes the traffic of ${servingNow}` };
    }
    if (r(desired.active).ready < need) {
      return { kind: 'wait', why: `${desired.active} has ${r(desired.active).ready}/${need} ready replicas; traffic moves when all are ready` };
    }
    if (desired.hold) return { kind: 'wait', why: `traffic stays on ${servingNow}: ${desired.hold}` };
    return { kind: 'route', active: desired.active, mirror: desired.standby, mirrorPercent: desired.mirrorPercent, spill: 0, why: `move traffic to ${desired.active}, mirror ${desired.mirrorPercent} % to ${desired.standby}` };
  }
  // While a share spills the route mirrors nothing. With no mirror wanted a route mirrors nowhere: its
  // mirror target is not compared. Shares are compared in whole percent, as a route's weights hold them.
  const spill = Math.round((desired.spill ?? 0) * 100);
  const mirrorPercent = spill > 0 ? 0 : desired.mirrorPercent;
  const observedSpill = Math.round((observed.route?.spill ?? 0) * 100);
  if (observed.route && (observedSpill !== spill || observed.route.mirrorPercent !== mirrorPercent || (mirrorPercent > 0 && observed.route.mirror !== desired.standby))) {
    const why =
      spill !== observedSpill
        ? spill > 0
          ? `spill ${spill} % of live traffic to ${desired.standby} (was ${observedSpill} %), no mirror meanwhile`
          : `spill-over ends: all traffic to ${desired.active}, mirror ${mirrorPercent} % to ${desired.standby}`
        : `mirror ${mirrorPercent} % to ${desired.standby}`;
    return { kind: 'route', active: desired.active, mirror: desired.standby, mirrorPercent, spill: spill / 100, why };
  }
  if (observed.autoscaler) {
    // The floor an autoscaler can hold: an HPA's is at least 1 and at most its maxReplicas. Its
    // maxReplicas follows the serving set's pod size (where the autoscaler tells it).
    const ceiling = observed.autoscaler.maxReplicas === undefined ? undefined : desired.ceiling;
    const floor = Math.min(Math.max(desired.floor, observed.autoscaler.lowest ?? 0), ceiling ?? Infinity);
    const retarget = observed.autoscaler.target !== desired.active;
    if (retarget || observed.autoscaler.minReplicas !== floor || (ceiling !== undefined && observed.autoscaler.maxReplicas !== ceiling)) {
      if (blocks?.writes) return { kind: 'wait', why: `autoscaler not written: ${blocks.writes}` };
      if (retarget && blocks?.retarget) return { kind: 'wait', why: `autoscaler not retargeted: ${blocks.retarget}` };
      const settling = retarget ? dataPlaneSettling(observed, desired, now) : undefined;
      if (settling) return { kind: 'wait', why: `autoscaler retargeted once ${settling}` };
      const what = retarget
        ? `retarget the autoscaler from ${observed.autoscaler.target} to ${desired.active}`
        : observed.autoscaler.minReplicas !== floor
          ? `autoscaler floor ${observed.autoscaler.minReplicas} → ${floor}`
          : `autoscaler ceiling ${observed.autoscaler.maxReplicas} → ${ceiling}`;
      return { kind: 'autoscaler', target: desired.active, minReplicas: floor, ...(ceiling !== undefined && ceiling !== observed.autoscaler.maxReplicas ? { maxReplicas: ceiling } : {}), why: what };
    }
  } else if (r(desired.active).spec < desired.floor) {
    return { kind: 'scale', set: desired.active, replicas: desired.floor, from: r(desired.active).spec, why: `no autoscaler: raise ${desired.active} to the floor ${desired.floor}` };
  }
  // The standby shrinks only once nothing sends it traffic any more (checked above), and once the
  // data plane has moved and drained.
  // While traffic is settled on the primary, a warm pool above `pool` (up to its maximum) is its own.
  const most = desired.poolRange && observed.poolMax !== undefined ? Math.max(desired.pool, observed.poolMax) : desired.pool;
  const standbySpec = r(desired.standby).spec;
  // A standby that takes a spilled share of live traffic keeps its replicas until the share is back
  // (not a wait: nothing to look at again before the spill-over changes, which reconciles anyway).
  const keepWhileSpilling = spill > 0 && standbySpec > most;
  if (!keepWhileSpilling && (standbySpec < desired.pool || standbySpec > most)) {
    const to = standbySpec < desired.pool ? desired.pool : most;
    const settling = standbySpec > to ? dataPlaneSettling(observed, desired, now) : undefined;
    if (settling) return { kind: 'wait', why: `${desired.standby} shrinks once ${settling}` };
    return { kind: 'scale', set: desired.standby, replicas: to, from: standbySpec, why: `shadow pool ${desired.standby} ${standbySpec} → ${to}` };
  }
  const restart = desired.restart;
  if (restart && restart.set === desired.standby) {
    const last = observed.restartedAt?.[restart.set];
    if (last === undefined || !(Date.parse(last) >= Date.parse(restart.since))) {
      return { kind: 'restart', set: restart.set, at: restart.since, why: `restart the degraded shadow ${restart.set} (last restart ${last ?? 'never'})` };
    }
  }
  return { kind: 'done' };
}
