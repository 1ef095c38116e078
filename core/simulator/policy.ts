/**
 * A scaling policy of the simulator. Each sync period it sees the past (never the future, but for the
 * oracle), as late as its pipeline delivers it, and says either the metric value the HPA gets or, for
 * the oracle, the replicas directly, and for shadowscale the shadow pool it wants.
 */
import type { AlertPath, AlertPathSpec } from './alert-path.ts';
import type { ForecastCache, ForecasterSpec } from './forecaster.ts';
import type { Trace } from './trace.ts';
import type { PlanMethod } from '../planner/planner.ts';

export interface PolicyContext {
  now: number;
  /** rate(...[1m]) at time `t` ≤ now: the mean load of the minute before `t`. Read it as late as the policy's pipeline would. */
  observedAt(t: number): number;
  /** Ready capacity at this tick. */
  capacity: number;
  /** Ready replicas of the standby (shadow) set at this tick, and the capacity they serve live traffic with. */
  standbyReady: number;
  /** Whether the standby served all it was sent (its live share and the mirrored copy) at time `t` ≤ now: its KPIs as Prometheus has them. */
  standbyHealthyAt(t: number): boolean;
}

export interface PolicyDecision {
  /** The value of the HPA's AverageValue metric. */
  metric?: number;
  /** Replicas set directly, bypassing the HPA (the oracle). */
  replicas?: number;
  /** Shadow pool size wanted. */
  shadowPool?: number;
  /** The HPA's minReplicas as the receiver writes it (its pre-scale floor); absent: the configured minimum. */
  minReplicas?: number;
  /** The share of live traffic to route to the standby set (spill-over); absent: unchanged. */
  spillShare?: number;
  /** The share of live traffic the same route write mirrors to the standby (with spillShare). */
  mirrorShare?: number;
}

/**
 * How late each side sees the load. Both read the same scrapes: a rate over a minute of samples
 * scraped every `scrapeDelaySeconds` lags the true one-minute mean by about that much. The reactive
 * HPA then reads it at every sync (prometheus-adapter or KEDA query on demand). shadowscale's adapter
 * reads the recorded rate at its `step`, every `refresh` (plus up to `jitter` of it), and serves what
 * it read last until the next refresh.
 */
export interface PipelineSpec {
  scrapeDelaySeconds: number;
  /** `observeSeconds`: the adapter's current-load reads (adapter.observe); undefined when off. */
  adapter: { stepSeconds: number; refreshSeconds: number; jitter: number; observeSeconds?: number };
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
  /** The workload's headroomQuantile. */
  headroomQuantile: number;
  /** The workload's `plan` and `targetUtilization` (core/config.ts). */
  plan: PlanMethod;
  planTargetUtilization: number;
  forecast: { fitStepSeconds: number; historySeconds: number; refitSeconds: number; rescoreSeconds: number };
  pipeline: PipelineSpec;
  /** Share of the live load the gateway mirrors to the standby (the shadow's mirrorPercent / 100). */
  mirrorShare: number;
  /** The receiver's pre-scale: its alert path and limits; absent: not modelled. */
  prescale?: PrescaleSpec;
  /** Forecasts already fitted on this trace by an earlier run, to replay (a tuning grid); absent: fitted live. */
  forecasts?: ForecastCache;
}

/** What the receiver's pre-scale runs on: the alert path's latencies, the receiver's limits, the workload's bound. */
export interface PrescaleSpec {
  alertPath: AlertPathSpec;
  /** receiver.cooldown and receiver.prescaleMax. */
  cooldownSeconds: number;
  prescaleMaxSeconds: number;
  /** The workload's slo.minRequestRate (the anomaly alert's minimum-traffic guard). */
  minRequestRate: number;
  /** Told of every rule evaluation (tests compare them with Prometheus's own); runs in the policy's thread. */
  onEvaluation?: ConstructorParameters<typeof AlertPath>[1];
}

export interface Policy {
  readonly name: string;
  readonly usesShadows: boolean;
  /** Scale-downs detach ready primaries into the pool instead of killing them, and scale-ups take them back (the warm pool). */
  readonly scaleDownIntoPool?: boolean;
  /** Its HPA is the one shadowscale's examples ship (SimulationSpec.productScaleUpTolerance), not a reactive one. */
  readonly productHpa?: boolean;
  decide(ctx: PolicyContext): PolicyDecision;
  /** Counters worth reporting (fits made, promotions asked...). */
  stats?(): Record<string, number>;
}

/**
 * The forecasts a policy reads: its forecaster's spec, and how long before each tick it asks for them
 * (it fits on the history as late as the scrapes deliver it). Declared, so that a run on several threads
 * can compute the fits ahead (simulation/run.ts); the policy asks with the same values.
 */
export interface ForecastNeed {
  spec: ForecasterSpec;
  askDelaySeconds: number;
}

export type PolicyFactory = ((setup: PolicySetup) => Policy) & { forecastNeed?: (setup: PolicySetup) => ForecastNeed };
