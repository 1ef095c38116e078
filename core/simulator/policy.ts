/**
 * A scaling policy of the simulator. Each sync period it sees the present (never the future, but for
 * the oracle) and says either the metric value the HPA gets or, for the oracle, the replicas directly,
 * and for shadowscale the shadow pool it wants and whether to promote.
 */
import type { Trace } from './trace.ts';

export interface PolicyContext {
  now: number;
  /** Load averaged over the last minute, as rate(...[1m]) gives it. */
  observed: number;
  /** Load and ready capacity at this tick (a primary short of capacity is degraded). */
  load: number;
  capacity: number;
}

export interface PolicyDecision {
  /** The value of the HPA's AverageValue metric. */
  metric?: number;
  /** Replicas set directly, bypassing the HPA (the oracle). */
  replicas?: number;
  /** Shadow pool size wanted. */
  shadowPool?: number;
  /** Promote warm shadows now. */
  promote?: boolean;
}

export interface PolicySetup {
  trace: Trace;
  capacityPerReplica: number;
  targetUtilization: number;
  provisioningLagSeconds: number;
  tickSeconds: number;
  minReplicas: number;
  maxReplicas: number;
  shadow: { minReplicas: number; maxReplicas: number; resourceFraction: number };
  forecast: { fitStepSeconds: number; historySeconds: number; refitSeconds: number; rescoreSeconds: number };
}

export interface Policy {
  readonly name: string;
  readonly usesShadows: boolean;
  /** Scale-downs detach ready primaries into the shadow pool instead of killing them (issue 9's instance detachment). */
  readonly scaleDownIntoPool?: boolean;
  decide(ctx: PolicyContext): PolicyDecision;
  /** Counters worth reporting (fits made, promotions asked...). */
  stats?(): Record<string, number>;
}

export type PolicyFactory = (setup: PolicySetup) => Policy;
