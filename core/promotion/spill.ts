/**
 * Spill-over: the share of live traffic the standby (shadow) set should take now, so that the serving
 * set is kept under its target while the replicas the plan asked for are still starting.
 *
 * Pure: the plan, the ready capacity of both sets and the standby's health in; a share in whole
 * percent out (what a route's weights can express). Zero while the serving set has headroom; when the
 * load (the larger of the load now and the plan's load over the lag) exceeds what the serving set
 * serves at `threshold` of its capacity, the excess, as far as the standby can serve it at the same
 * threshold of its own (reduced) capacity. The mirror is suspended while a share spills (the route
 * that splits the traffic drops its mirror filter in the same write): a mirrored copy is answered and
 * thrown away, so during a surge the standby's capacity is worth more serving live requests; with
 * `mirrorWhileSpilling` the mirror is kept and its copy served first. Never to an
 * unready or unhealthy standby: that withdrawal is immediate. Otherwise a change waits `holdSeconds`
 * after the last one, moves at most `maxStep`, and a lower share is only taken once it is lower by
 * more than `hysteresis`, so that the weights do not follow every wiggle of the load.
 */

export interface SpillSpec {
  /** Load one serving replica serves within its SLO (the workload's capacityPerReplica). */
  capacityPerReplica: number;
  /** What a standby replica serves, as a fraction of a serving one (the shadow's resourceFraction). */
  shadowResourceFraction: number;
  /** Utilisation of either set above which load goes to the other: the share of its capacity it is kept under. */
  threshold: number;
  /** Share of the live load mirrored to the standby outside spill-over (mirrorPercent / 100). */
  mirrorShare: number;
  /** Keep mirroring while a share spills (its copy then uses the standby's capacity first); default: suspended. */
  mirrorWhileSpilling?: boolean;
  /** The highest share ever sent to the standby. */
  maxShare: number;
  /** The largest change of the share in one write (0.10: ten points). */
  maxStep: number;
  /** A lower share is taken only once it is lower than the current one by more than this. */
  hysteresis: number;
  /** The least time between two changes (except a withdrawal from an unready or unhealthy standby). */
  holdSeconds: number;
}

/**
 * Defaults: each set is filled to its capacity (capacityPerReplica is the load a replica serves within
 * its SLO, and the plan already carries the headroom), so nothing spills while the serving set has what
 * the plan asks for, that is, outside the provisioning lag of a scale-up.
 */
export const DEFAULT_SPILL: Omit<SpillSpec, 'capacityPerReplica' | 'shadowResourceFraction' | 'mirrorShare'> = {
  threshold: 1,
  // Below one half: the serving set keeps the larger share, and with it its role for the rules.
  maxShare: 0.45,
  maxStep: 0.1,
  hysteresis: 0.05,
  holdSeconds: 30,
};

export interface SpillInput {
  /** Seconds, on any clock the state uses too. */
  now: number;
  /** The live load now (the recorded rate, as Prometheus has it). */
  load: number;
  /** The plan's load over the provisioning lag (core/planner predictedLoad); absent: the load now only. */
  plannedLoad?: number;
  /** Ready replicas of the set that serves. */
  servingReady: number;
  /** Ready replicas of the standby set. */
  standbyReady: number;
  /** The standby's KPIs are within its SLO (latency and errors). */
  standbyHealthy: boolean;
}

/** What the decision remembers: the share in force and when it was last changed (seconds). */
export interface SpillState {
  share: number;
  changedAt: number;
}

export interface SpillDecision {
  /** The share to send to the standby, in whole percent as a fraction (0.17). */
  share: number;
  /** The share the load asks for before the hold, the step bound and the hysteresis. */
  wanted: number;
  changed: boolean;
  why: string;
}

export const NO_SPILL: SpillState = { share: 0, changedAt: -Infinity };

const percent = (x: number) => Math.round(x * 100) / 100;

/** The mirror share the route carries with a spill share: none while spilling, unless kept. */
export function mirrorWith(spec: SpillSpec, share: number): number {
  return share > 0 && !spec.mirrorWhileSpilling ? 0 : spec.mirrorShare;
}

/** The share the load asks for now, before hold, step and hysteresis. */
export function wantedSpill(spec: SpillSpec, input: SpillInput): { share: number; why: string } {
  if (input.standbyReady <= 0) return { share: 0, why: 'the standby set has no ready replica' };
  if (!input.standbyHealthy) return { share: 0, why: 'the standby set is outside its SLO' };
  const load = Math.max(input.load, input.plannedLoad ?? 0);
  if (!(load > 0)) return { share: 0, why: 'no load' };
  const serving = input.servingReady * spec.capacityPerReplica * spec.threshold;
  const excess = load - serving;
  if (excess <= 0) return { share: 0, why: `the serving set has headroom (${fmt(load)} of ${fmt(serving)} at its threshold)` };
  // While it spills the standby gets no mirrored copy, unless the mirror is kept: then the copy comes first.
  const mirrored = spec.mirrorWhileSpilling ? spec.mirrorShare * input.load : 0;
  const standby = Math.max(0, input.standbyReady * spec.capacityPerReplica * spec.shadowResourceFraction * spec.threshold - mirrored);
  let share = excess / load;
  const source = input.plannedLoad !== undefined && input.plannedLoad > input.load ? `the plan's ${fmt(load)} (${fmt(input.load)} now)` : `the load ${fmt(load)}`;
  let why = `${source}: ${fmt(excess)} above the serving set's ${fmt(serving)}`;
  if (standby / load < share) {
    share = standby / load;
    why += `, ${fmt(standby)} of it as much as the standby serves`;
  }
  if (spec.maxShare < share) {
    share = spec.maxShare;
    why += ', at the highest share';
  }
  return { share, why };
}

export function decideSpill(spec: SpillSpec, state: SpillState, input: SpillInput): SpillDecision {
  const wanted = wantedSpill(spec, input);
  const target = Math.floor(wanted.share * 100 + 1e-9) / 100;
  const keep = (why: string): SpillDecision => ({ share: state.share, wanted: wanted.share, changed: false, why });
  // Never to an unready or unhealthy set, and not a moment longer.
  if (state.share > 0 && (input.standbyReady <= 0 || !input.standbyHealthy)) return { share: 0, wanted: 0, changed: true, why: wanted.why };
  if (target === state.share) return keep(wanted.why);
  if (target < state.share && state.share - target <= spec.hysteresis + 1e-9 && target > 0) return keep(`${wanted.why}; within the hysteresis of ${state.share}`);
  if (input.now - state.changedAt < spec.holdSeconds) return keep(`${wanted.why}; held until ${state.changedAt + spec.holdSeconds}`);
  const step = Math.max(-spec.maxStep, Math.min(spec.maxStep, target - state.share));
  const share = percent(Math.max(0, state.share + step));
  return { share, wanted: wanted.share, changed: share !== state.share, why: wanted.why };
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}
