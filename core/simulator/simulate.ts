/**
 * Replays a trace through the cluster model under a policy, one HPA sync period (15 s) at a time, and
 * measures what users and the bill would see. Every policy starts from the same state after the same
 * warm-up (history the forecasting policies may learn from, not scored), and sees the load as late as
 * its pipeline would deliver it (policy.ts PipelineSpec). Only the trace's real samples are scored:
 * a filled gap is an interpolation that reads the sample after it.
 */
import { Cluster } from './cluster.ts';
import { DEFAULT_TOLERANCE, HpaController } from '../hpa.ts';
import type { PipelineSpec, Policy, PolicyFactory, PolicySetup, PrescaleSpec } from './policy.ts';
import { holtWintersPolicy } from './policies/holt-winters.ts';
import { hpaPolicy } from './policies/hpa.ts';
import { oraclePolicy } from './policies/oracle.ts';
import {
  shadowscaleHindsightChoicePolicy,
  shadowscalePeakError05Policy,
  shadowscalePeakError075Policy,
  shadowscalePerfectForecastPolicy,
  shadowscalePolicy,
  shadowscalePoolPolicy,
  shadowscaleSpillPolicy,
} from './policies/shadowscale.ts';
import { loadAt, sampledAt, traceEnd, type Trace } from './trace.ts';
import type { ForecastCache } from './forecaster.ts';
import { DEFAULT_TARGET_UTILIZATION, type PlanMethod } from '../planner/planner.ts';

export const POLICIES: Record<string, PolicyFactory> = {
  hpa: hpaPolicy,
  'holt-winters': holtWintersPolicy,
  shadowscale: shadowscalePolicy,
  'shadowscale+pool': shadowscalePoolPolicy,
  'shadowscale+spill': shadowscaleSpillPolicy,
  'shadowscale+perfect-forecast': shadowscalePerfectForecastPolicy,
  'shadowscale+spill+hindsight-choice': shadowscaleHindsightChoicePolicy,
  'shadowscale+spill+peak-error-0.75': shadowscalePeakError075Policy,
  'shadowscale+spill+peak-error-0.5': shadowscalePeakError05Policy,
  oracle: oraclePolicy,
};
export type PolicyName = keyof typeof POLICIES;

export interface SimulationSpec {
  capacityPerReplica: number;
  provisioningLagSeconds: number;
  targetUtilization: number;
  minReplicas: number;
  maxReplicas: number;
  shadowResourceFraction: number;
  shadowMinReplicas: number;
  shadowMaxReplicas: number;
  /** The workloads' headroomQuantile (core/config.ts). */
  headroomQuantile: number;
  /** The workloads' `plan` (core/config.ts). */
  plan: PlanMethod;
  /** The workloads' `targetUtilization`: the level plan's, not the reactive HPA's (`targetUtilization` above). */
  planTargetUtilization: number;
  /** Trace time used only as history before scoring starts. */
  warmupSeconds: number;
  tickSeconds: number;
  forecast: PolicySetup['forecast'];
  pipeline: PipelineSpec;
  /**
   * behavior.scaleUp.tolerance of the HPAs: the reactive ones (hpa, holt-winters and the HPA at equal
   * cost), and the one shadowscale's plan feeds. Both Kubernetes' default 0.1, as the example HPA leaves
   * it: a tolerance of 0 (scale up at any rise of the plan) ratchets the replicas up on every wobble of
   * the observed load for the scale-down window, and cost more than it served (README, scaling).
   */
  hpaScaleUpTolerance: number;
  productScaleUpTolerance: number;
  /** Share of the live load mirrored to the shadows, which their capacity serves first (the shadow's mirrorPercent / 100), unless a policy's route write changes it. */
  mirrorShare: number;
  /** From a route's weights written to the data plane routing by them (the gateway's reconcile and config push). */
  routeDelaySeconds: number;
  /** The receiver's pre-scale, with the alert path the shipped rules and Alertmanager route imply (simulation/alert-path.ts); absent: not modelled. */
  prescale?: PrescaleSpec;
}

export interface TimelinePoint {
  t: number;
  load: number;
  capacity: number;
  replicas: number;
  shadows: number;
  /** The share of live traffic routed to the shadows. */
  spill: number;
}

export interface PolicyResult {
  policy: string;
  targetUtilization: number;
  /** Request-seconds above ready capacity, at the ticks on real samples. */
  unserved: number;
  unservedFraction: number;
  violationSeconds: number;
  replicaSeconds: number;
  shadowReplicaSeconds: number;
  peakReplicas: number;
  scaleActions: number;
  /** Pods the warm pool returned to the primary, ready at once (shadowscale+pool). */
  poolReturns: number;
  /** Scored seconds during which the route sent a share of live traffic to the shadows (shadowscale+spill). */
  spillSeconds: number;
  /** Ticks scored (on real samples) and skipped (on filled gaps). */
  scoredTicks: number;
  skippedTicks: number;
  stats: Record<string, number>;
  /** One point a minute, for plots. */
  timeline: TimelinePoint[];
}

const NO_STANDBY = Object.freeze({ ready: 0, replicas: 0 });

/** How long pods detached into the pool by a scale-down are kept before the pool returns to the plan's size. */
export const DETACHED_IDLE_SECONDS = 600;

export function defaultSpec(overrides: Partial<SimulationSpec> & Pick<SimulationSpec, 'capacityPerReplica'>): SimulationSpec {
  return {
    provisioningLagSeconds: 120,
    targetUtilization: 0.8,
    minReplicas: 1,
    maxReplicas: 1000,
    shadowResourceFraction: 0.5,
    shadowMinReplicas: 1,
    shadowMaxReplicas: 5,
    headroomQuantile: 0.9,
    plan: 'level',
    planTargetUtilization: DEFAULT_TARGET_UTILIZATION,
    warmupSeconds: 3 * 86_400,
    tickSeconds: 15,
    forecast: { fitStepSeconds: 300, historySeconds: 3 * 86_400, refitSeconds: 3600, rescoreSeconds: 86_400 },
    // A 30 s scrape interval; the adapter's defaults (adapter.step, refresh, jitter, observe).
    pipeline: { scrapeDelaySeconds: 30, adapter: { stepSeconds: 60, refreshSeconds: 60, jitter: 0.1, observeSeconds: 15 } },
    hpaScaleUpTolerance: DEFAULT_TOLERANCE,
    productScaleUpTolerance: DEFAULT_TOLERANCE,
    mirrorShare: 0.1,
    routeDelaySeconds: 5,
    ...overrides,
  };
}

/** At least an hour must remain to score after the warm-up. */
export function checkScoredSpan(trace: Trace, spec: SimulationSpec): void {
  const span = traceEnd(trace) - trace.start;
  if (!(span - spec.warmupSeconds >= 3600)) {
    throw new RangeError(`the trace holds ${(span / 3600).toFixed(1)} h; with a warm-up of ${spec.warmupSeconds / 3600} h less than an hour is left to score`);
  }
}

export interface SimulateOptions {
  forecasts?: ForecastCache;
  /** Keep the one-point-a-minute timeline (for plots); off for the HPA runs that only price a target. */
  timeline?: boolean;
}

/** What a policy is told of the run. */
export function policySetup(trace: Trace, spec: SimulationSpec, forecasts?: ForecastCache): PolicySetup {
  return {
    trace,
    capacityPerReplica: spec.capacityPerReplica,
    targetUtilization: spec.targetUtilization,
    provisioningLagSeconds: spec.provisioningLagSeconds,
    tickSeconds: spec.tickSeconds,
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    shadow: { minReplicas: spec.shadowMinReplicas, maxReplicas: spec.shadowMaxReplicas, resourceFraction: spec.shadowResourceFraction },
    headroomQuantile: spec.headroomQuantile,
    plan: spec.plan,
    planTargetUtilization: spec.planTargetUtilization,
    forecast: spec.forecast,
    pipeline: spec.pipeline,
    mirrorShare: spec.mirrorShare,
    ...(spec.prescale ? { prescale: spec.prescale } : {}),
    forecasts,
  };
}

/** The times of the run's ticks (HPA syncs), as `simulate` steps through them. */
export function* tickTimes(trace: Trace, spec: SimulationSpec): Generator<number> {
  const end = traceEnd(trace);
  for (let t = trace.start + spec.warmupSeconds; t < end; t += spec.tickSeconds) yield t;
}

export function simulate(trace: Trace, factory: PolicyFactory, spec: SimulationSpec, options: SimulateOptions = {}): PolicyResult {
  const keepTimeline = options.timeline ?? true;
  const tick = spec.tickSeconds;
  const setup = policySetup(trace, spec, options.forecasts);
  const policy: Policy = factory(setup);
  const cluster = new Cluster({
    capacityPerReplica: spec.capacityPerReplica,
    provisioningLagSeconds: spec.provisioningLagSeconds,
    shadowResourceFraction: spec.shadowResourceFraction,
  });
  const hpa = new HpaController({
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    targetAverageValue: spec.targetUtilization * spec.capacityPerReplica,
    scaleUpTolerance: policy.productHpa ? spec.productScaleUpTolerance : spec.hpaScaleUpTolerance,
  });

  checkScoredSpan(trace, spec);
  const start = trace.start + spec.warmupSeconds;
  const end = traceEnd(trace);
  // Same start for every policy: enough ready replicas for the load at the target, a full pool.
  let specReplicas = clamp(Math.ceil(loadAt(trace, start) / (spec.targetUtilization * spec.capacityPerReplica)), spec.minReplicas, spec.maxReplicas);
  cluster.seed(specReplicas, policy.usesShadows ? spec.shadowMinReplicas : 0, start - spec.provisioningLagSeconds);

  // rate(...[1m]) at t: the mean of the minute's ticks up to t. A policy reads it as late as its pipeline does.
  const windowTicks = Math.max(1, Math.round(60 / tick));
  let now = start;
  const observedAt = (t: number): number => {
    if (t > now + 1e-9) throw new RangeError(`a policy read the load at ${t}, after the present ${now}`);
    let sum = 0;
    // Before the trace begins there is no sample: its first value stands in (not a drop to zero).
    for (let k = 0; k < windowTicks; k++) sum += loadAt(trace, Math.max(trace.start, t - k * tick));
    return sum / windowTicks;
  };

  let unserved = 0;
  let total = 0;
  let violationSeconds = 0;
  let replicaSeconds = 0;
  let shadowReplicaSeconds = 0;
  let peakReplicas = specReplicas;
  let scaleActions = 0;
  let poolReturns = 0;
  let scoredTicks = 0;
  let skippedTicks = 0;
  // Pods detached into the pool by scale-downs: the warm pool shrinks back after DETACHED_IDLE_SECONDS.
  const detachedAt: Array<{ t: number; count: number }> = [];
  const timeline: TimelinePoint[] = [];

  // The share of live traffic the route sends to the shadows, and the weight writes not yet in force.
  let share = 0;
  let mirror = spec.mirrorShare;
  const routeWrites: Array<{ at: number; share: number; mirror: number }> = [];
  let written = 0;
  let spillSeconds = 0;
  // Per tick: whether the shadows served all they were sent (their KPIs, read as late as a policy reads them).
  const standbyServed: boolean[] = [];
  const standbyHealthyAt = (t: number): boolean => {
    if (t > now + 1e-9) throw new RangeError(`a policy read the shadows' KPIs at ${t}, after the present ${now}`);
    const i = Math.floor((t - start) / tick);
    return i < 0 || (standbyServed[Math.min(i, standbyServed.length - 1)] ?? true);
  };

  // The HPA's minReplicas, as the receiver last wrote it.
  let floor = spec.minReplicas;
  // Stepped as tickTimes() steps.
  for (let t = start; t < end; t += tick) {
    now = t;
    const load = loadAt(trace, t);
    while (routeWrites.length > 0 && routeWrites[0].at <= t) ({ share, mirror } = routeWrites.shift()!);
    const capacity = cluster.capacity(t);
    const standby = policy.usesShadows ? cluster.standby(t) : NO_STANDBY;
    // The shadows serve the mirrored copy first, then what the route sends them live.
    const standbyRoom = Math.max(0, standby.replicas * spec.capacityPerReplica - mirror * load);
    const short = Math.max(0, (1 - share) * load - capacity) + (share > 0 ? Math.max(0, share * load - standbyRoom) : 0);
    if (policy.usesShadows) standbyServed.push(share * load <= standbyRoom + 1e-9);
    const scored = sampledAt(trace, t);
    if (scored) {
      unserved += short * tick;
      total += load * tick;
      if (short > 0) violationSeconds += tick;
      if (share > 0) spillSeconds += tick;
      scoredTicks++;
    } else skippedTicks++;
    if (keepTimeline && (t - start) % 60 < tick) timeline.push({ t, load, capacity, replicas: cluster.primaryCount(), shadows: cluster.shadowCount(), spill: share });

    const decision = policy.decide({ now: t, observedAt, capacity, standbyReady: standby.ready, standbyHealthyAt });
    if (decision.spillShare !== undefined && decision.spillShare !== written) {
      written = decision.spillShare;
      routeWrites.push({ at: t + spec.routeDelaySeconds, share: written, mirror: decision.mirrorShare ?? spec.mirrorShare });
    }

    if (decision.minReplicas !== undefined && decision.minReplicas !== floor) {
      floor = decision.minReplicas;
      hpa.setMinReplicas(floor);
    }
    let desired: number;
    if (decision.replicas !== undefined) desired = decision.replicas;
    else desired = hpa.sync(t, decision.metric ?? observedAt(t), specReplicas, cluster.primaryCount());
    if (desired !== specReplicas) scaleActions++;
    specReplicas = desired;
    if (policy.scaleDownIntoPool) {
      // Detached pods idle for long enough are deleted (the pool's de-provisioning), the oldest first.
      let expired = 0;
      while (detachedAt.length > 0 && t - detachedAt[0].t >= DETACHED_IDLE_SECONDS) expired += detachedAt.shift()!.count;
      if (expired > 0) cluster.dropDetached(expired);
      const planned = decision.shadowPool ?? 0;
      const room = Math.max(0, spec.shadowMaxReplicas - planned - cluster.detachedCount());
      const moved = cluster.scalePrimaries(desired, t, room);
      // Returned pods leave the newest detachments last: take them from the record's end.
      for (let left = moved.returned; left > 0 && detachedAt.length > 0; ) {
        const d = detachedAt[detachedAt.length - 1];
        const n = Math.min(d.count, left);
        d.count -= n;
        left -= n;
        if (d.count === 0) detachedAt.pop();
      }
      if (moved.detached > 0) detachedAt.push({ t, count: moved.detached });
      poolReturns += moved.returned;
      cluster.scaleShadows(Math.min(spec.shadowMaxReplicas, planned), t);
    } else {
      cluster.scalePrimaries(desired, t);
      if (policy.usesShadows && decision.shadowPool !== undefined) cluster.scaleShadows(decision.shadowPool, t);
    }
    peakReplicas = Math.max(peakReplicas, cluster.primaryCount());
    // The pods that exist after this sync's decisions run (and cost) until the next one; counted over
    // the scored ticks, as the unserved load is.
    if (scored) {
      const cost = cluster.cost();
      replicaSeconds += (cost.primary + cost.shadow) * tick;
      shadowReplicaSeconds += cost.shadow * tick;
    }
  }

  return {
    policy: policy.name,
    targetUtilization: spec.targetUtilization,
    unserved,
    unservedFraction: total > 0 ? unserved / total : 0,
    violationSeconds,
    replicaSeconds,
    shadowReplicaSeconds,
    peakReplicas,
    scaleActions,
    poolReturns,
    spillSeconds,
    scoredTicks,
    skippedTicks,
    stats: policy.stats?.() ?? {},
    timeline,
  };
}

/** hpa at target utilisations from 0.95 down to 0.3: what reactive scaling buys with more replicas. */
export function hpaFrontier(trace: Trace, spec: SimulationSpec, runs: HpaRuns = new HpaRuns(trace, spec)): PolicyResult[] {
  const targets = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3];
  return targets.map((targetUtilization) => runs.at(targetUtilization));
}

/**
 * The reactive HPA's runs on one trace and spec, by target utilisation, each simulated once: the
 * frontier and every policy's equal-cost bisection share them. Without timelines: they only price a
 * target.
 */
export class HpaRuns {
  private readonly byTarget = new Map<number, PolicyResult>();
  /** Simulations actually run. */
  simulated = 0;
  constructor(private readonly trace: Trace, private readonly spec: SimulationSpec) {}

  at(targetUtilization: number): PolicyResult {
    let r = this.byTarget.get(targetUtilization);
    if (!r) {
      this.simulated++;
      r = simulate(this.trace, hpaPolicy, { ...this.spec, targetUtilization }, { timeline: false });
      this.byTarget.set(targetUtilization, r);
    }
    return r;
  }

  /** The targets simulated so far. */
  priced(): Iterable<PolicyResult> {
    return this.byTarget.values();
  }

  /** A cache holding the runs made so far, which then grows on its own: searches in it leave this one as it is. */
  fork(): HpaRuns {
    const copy = new HpaRuns(this.trace, this.spec);
    for (const [target, r] of this.byTarget) copy.byTarget.set(target, r);
    return copy;
  }
}

export interface EqualCost {
  /** The reactive HPA's unserved fraction at the given replica-seconds. */
  value: number;
  /** Its target utilisation there. */
  targetUtilization: number;
  /** The cost lies outside what targets from 0.05 to 1 spend: the nearest end's figures, not a match. */
  extrapolated: boolean;
  /** Simulations run to find it. */
  runs: number;
}

/**
 * The reactive HPA's unserved fraction at exactly `replicaSeconds`, found by bisection on its target
 * utilisation (its cost falls as the target rises) until a target spends within 0.1 % of it; where the
 * cost jumps past it, the two settings 1e-4 apart on either side are mixed linearly. Targets `cache`
 * has already priced start the bracket (or are the answer, within the 0.1 %). Never a chord
 * across a coarse frontier; outside the range of targets, the nearest end, marked `extrapolated`.
 */
export function hpaAtEqualCost(trace: Trace, spec: SimulationSpec, replicaSeconds: number, cache: HpaRuns = new HpaRuns(trace, spec)): EqualCost {
  let runs = 0;
  const at = (targetUtilization: number) => {
    runs++;
    return cache.at(targetUtilization);
  };
  let dear = at(0.05);
  let cheap = at(1);
  if (replicaSeconds >= dear.replicaSeconds) return { value: dear.unservedFraction, targetUtilization: 0.05, extrapolated: replicaSeconds > dear.replicaSeconds, runs };
  if (replicaSeconds <= cheap.replicaSeconds) return { value: cheap.unservedFraction, targetUtilization: 1, extrapolated: replicaSeconds < cheap.replicaSeconds, runs };
  // Targets already priced (the frontier, other policies' bisections): one within 0.1 % of the cost
  // is the answer; otherwise the nearest on either side narrow the bracket.
  const tolerance = 1e-3 * replicaSeconds;
  let nearest: PolicyResult | undefined;
  for (const r of cache.priced()) {
    const off = Math.abs(r.replicaSeconds - replicaSeconds);
    if (off <= tolerance && (!nearest || off < Math.abs(nearest.replicaSeconds - replicaSeconds))) nearest = r;
    if (r.replicaSeconds >= replicaSeconds && r.targetUtilization > dear.targetUtilization && r.targetUtilization < cheap.targetUtilization) dear = r;
    if (r.replicaSeconds < replicaSeconds && r.targetUtilization < cheap.targetUtilization && r.targetUtilization > dear.targetUtilization) cheap = r;
  }
  if (nearest) return { value: nearest.unservedFraction, targetUtilization: nearest.targetUtilization, extrapolated: false, runs };
  // The HPA's cost is a step function of its target (whole replicas): stop on a target within 0.1 %
  // of the cost, or when the bracket is 1e-4 wide around a jump (then the two settings are mixed).
  while (dear.targetUtilization - cheap.targetUtilization < -1e-4) {
    const mid = at((dear.targetUtilization + cheap.targetUtilization) / 2);
    if (Math.abs(mid.replicaSeconds - replicaSeconds) <= tolerance) return { value: mid.unservedFraction, targetUtilization: mid.targetUtilization, extrapolated: false, runs };
    if (mid.replicaSeconds >= replicaSeconds) dear = mid;
    else cheap = mid;
  }
  const span = dear.replicaSeconds - cheap.replicaSeconds;
  const w = span > 0 ? (replicaSeconds - cheap.replicaSeconds) / span : 0;
  return {
    value: cheap.unservedFraction + w * (dear.unservedFraction - cheap.unservedFraction),
    targetUtilization: cheap.targetUtilization + w * (dear.targetUtilization - cheap.targetUtilization),
    extrapolated: false,
    runs,
  };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
