/**
 * Replays a trace through the cluster model under a policy, one HPA sync period (15 s) at a time, and
 * measures what users and the bill would see. Every policy starts from the same state after the same
 * warm-up (history the forecasting policies may learn from, not scored).
 */
import { Cluster } from './cluster.ts';
import { HpaController } from '../hpa.ts';
import type { Policy, PolicyFactory, PolicySetup } from './policy.ts';
import { holtWintersPolicy } from './policies/holt-winters.ts';
import { hpaPolicy } from './policies/hpa.ts';
import { oraclePolicy } from './policies/oracle.ts';
import { shadowscalePolicy, shadowscalePoolPolicy } from './policies/shadowscale.ts';
import { loadAt, traceEnd, type Trace } from './trace.ts';

export const POLICIES: Record<string, PolicyFactory> = {
  hpa: hpaPolicy,
  'holt-winters': holtWintersPolicy,
  shadowscale: shadowscalePolicy,
  'shadowscale+pool': shadowscalePoolPolicy,
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
  resizeDelaySeconds: number;
  /** From the decision to promote to the promoted shadows serving (alert, webhook, API call). */
  promotionDelaySeconds: number;
  shadowMinReplicas: number;
  shadowMaxReplicas: number;
  /** Trace time used only as history before scoring starts. */
  warmupSeconds: number;
  tickSeconds: number;
  forecast: PolicySetup['forecast'];
}

export interface TimelinePoint {
  t: number;
  load: number;
  capacity: number;
  replicas: number;
  shadows: number;
}

export interface PolicyResult {
  policy: string;
  targetUtilization: number;
  /** Request-seconds above ready capacity. */
  unserved: number;
  unservedFraction: number;
  violationSeconds: number;
  replicaSeconds: number;
  shadowReplicaSeconds: number;
  peakReplicas: number;
  scaleActions: number;
  promotions: number;
  stats: Record<string, number>;
  /** One point a minute, for plots. */
  timeline: TimelinePoint[];
}

/** How long pods detached into the pool by a scale-down are kept before the pool returns to the plan's size. */
export const DETACHED_IDLE_SECONDS = 600;

export function defaultSpec(overrides: Partial<SimulationSpec> & Pick<SimulationSpec, 'capacityPerReplica'>): SimulationSpec {
  return {
    provisioningLagSeconds: 120,
    targetUtilization: 0.8,
    minReplicas: 1,
    maxReplicas: 1000,
    shadowResourceFraction: 0.5,
    resizeDelaySeconds: 30,
    promotionDelaySeconds: 30,
    shadowMinReplicas: 1,
    shadowMaxReplicas: 5,
    warmupSeconds: 3 * 86_400,
    tickSeconds: 15,
    forecast: { fitStepSeconds: 300, historySeconds: 3 * 86_400, refitSeconds: 3600, rescoreSeconds: 86_400 },
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

export function simulate(trace: Trace, factory: PolicyFactory, spec: SimulationSpec): PolicyResult {
  const tick = spec.tickSeconds;
  const setup: PolicySetup = {
    trace,
    capacityPerReplica: spec.capacityPerReplica,
    targetUtilization: spec.targetUtilization,
    provisioningLagSeconds: spec.provisioningLagSeconds,
    tickSeconds: tick,
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    shadow: { minReplicas: spec.shadowMinReplicas, maxReplicas: spec.shadowMaxReplicas, resourceFraction: spec.shadowResourceFraction },
    forecast: spec.forecast,
  };
  const policy: Policy = factory(setup);
  const cluster = new Cluster({
    capacityPerReplica: spec.capacityPerReplica,
    provisioningLagSeconds: spec.provisioningLagSeconds,
    shadowResourceFraction: spec.shadowResourceFraction,
    resizeDelaySeconds: spec.resizeDelaySeconds,
  });
  const hpa = new HpaController({ minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas, targetAverageValue: spec.targetUtilization * spec.capacityPerReplica });

  checkScoredSpan(trace, spec);
  const start = trace.start + spec.warmupSeconds;
  const end = traceEnd(trace);
  // Same start for every policy: enough ready replicas for the load at the target, a full pool.
  let specReplicas = clamp(Math.ceil(loadAt(trace, start) / (spec.targetUtilization * spec.capacityPerReplica)), spec.minReplicas, spec.maxReplicas);
  cluster.seed(specReplicas, policy.usesShadows ? spec.shadowMinReplicas : 0, start - spec.provisioningLagSeconds);

  // rate(...[1m]): the mean of the last minute's ticks.
  const windowTicks = Math.max(1, Math.round(60 / tick));
  const recent: number[] = [];
  let recentSum = 0;

  let unserved = 0;
  let total = 0;
  let violationSeconds = 0;
  let replicaSeconds = 0;
  let shadowReplicaSeconds = 0;
  let peakReplicas = specReplicas;
  let scaleActions = 0;
  let promotions = 0;
  let pendingPromotionAt = Infinity;
  // Pods detached into the pool by scale-downs, kept warm for DETACHED_IDLE_SECONDS (when and how many).
  const detachedAt: Array<{ t: number; count: number }> = [];
  const timeline: TimelinePoint[] = [];

  for (let t = start; t < end; t += tick) {
    const load = loadAt(trace, t);
    const capacity = cluster.capacity(t);
    const short = Math.max(0, load - capacity);
    unserved += short * tick;
    total += load * tick;
    if (short > 0) violationSeconds += tick;
    if ((t - start) % 60 < tick) timeline.push({ t, load, capacity, replicas: cluster.primaryCount(), shadows: cluster.shadowCount() });

    recent.push(load);
    recentSum += load;
    if (recent.length > windowTicks) recentSum -= recent.shift()!;
    const observed = recentSum / recent.length;

    const decision = policy.decide({ now: t, observed, load, capacity });

    // A promotion decided now lands after the alert → webhook → API-call delay.
    if (t >= pendingPromotionAt) {
      const deficit = Math.max(0, load - cluster.capacity(t));
      const shadowServes = spec.capacityPerReplica * spec.shadowResourceFraction;
      const wanted = Math.max(1, Math.ceil(deficit / shadowServes));
      const promoted = cluster.promote(wanted, t);
      if (promoted > 0) {
        promotions += promoted;
        // The receiver raises the primary's replicas by the promoted shadows, so the HPA starts from there.
        specReplicas = cluster.primaryCount();
      }
      pendingPromotionAt = Infinity;
    }
    if (decision.promote && pendingPromotionAt === Infinity && cluster.readyShadows(t) > 0) pendingPromotionAt = t + spec.promotionDelaySeconds;

    let desired: number;
    if (decision.replicas !== undefined) desired = decision.replicas;
    else desired = hpa.sync(t, decision.metric ?? observed, specReplicas, cluster.primaryCount());
    if (desired !== specReplicas) scaleActions++;
    specReplicas = desired;
    if (policy.scaleDownIntoPool) {
      while (detachedAt.length > 0 && t - detachedAt[0].t >= DETACHED_IDLE_SECONDS) detachedAt.shift();
      const kept = detachedAt.reduce((n, d) => n + d.count, 0);
      const room = Math.max(0, spec.shadowMaxReplicas - Math.max(kept, decision.shadowPool ?? 0));
      const detached = cluster.scalePrimaries(desired, t, room);
      if (detached > 0) detachedAt.push({ t, count: detached });
      // The pool keeps the planner's size, or the detached pods until they have idled long enough.
      const keep = detachedAt.reduce((n, d) => n + d.count, 0);
      if (decision.shadowPool !== undefined) cluster.scaleShadows(Math.min(spec.shadowMaxReplicas, Math.max(decision.shadowPool, keep)), t);
    } else {
      cluster.scalePrimaries(desired, t);
      if (policy.usesShadows && decision.shadowPool !== undefined) cluster.scaleShadows(decision.shadowPool, t);
    }
    peakReplicas = Math.max(peakReplicas, cluster.primaryCount());
    // The pods that exist after this sync's decisions run (and cost) until the next one.
    const cost = cluster.cost();
    replicaSeconds += (cost.primary + cost.shadow) * tick;
    shadowReplicaSeconds += cost.shadow * tick;
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
    promotions,
    stats: policy.stats?.() ?? {},
    timeline,
  };
}

/** hpa at target utilisations from 0.95 down to 0.3: what reactive scaling buys with more replicas. */
export function hpaFrontier(trace: Trace, spec: SimulationSpec): PolicyResult[] {
  const targets = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3];
  return targets.map((targetUtilization) => simulate(trace, hpaPolicy, { ...spec, targetUtilization }));
}

/**
 * hpa's unserved fraction at the same replica-seconds, interpolated linearly on its frontier; clamped
 * to the frontier's ends (`extrapolated` says so) when the cost lies outside it.
 */
export function unservedAtEqualCost(frontier: readonly PolicyResult[], replicaSeconds: number): { value: number; extrapolated: boolean } {
  const points = [...frontier].sort((a, b) => a.replicaSeconds - b.replicaSeconds);
  if (replicaSeconds <= points[0].replicaSeconds) return { value: points[0].unservedFraction, extrapolated: replicaSeconds < points[0].replicaSeconds };
  const last = points[points.length - 1];
  if (replicaSeconds >= last.replicaSeconds) return { value: last.unservedFraction, extrapolated: replicaSeconds > last.replicaSeconds };
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (replicaSeconds <= b.replicaSeconds) {
      const w = (replicaSeconds - a.replicaSeconds) / (b.replicaSeconds - a.replicaSeconds);
      return { value: a.unservedFraction + w * (b.unservedFraction - a.unservedFraction), extrapolated: false };
    }
  }
  return { value: last.unservedFraction, extrapolated: true };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
