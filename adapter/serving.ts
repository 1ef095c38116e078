/**
 * What the adapter serves for a workload at a given moment: the fallback ladder (fresh forecast →
 * last good forecast until the TTL → observed load → configured minimum) and the plan on top of it.
 * Pure: state and clock in, view out; the HTTP, gRPC and metrics edges all read this one view.
 */
import { plan, type Plan, type PlannerSpec } from '../core/planner/planner.ts';
import { bandAt, forecastWindow, forecastWindowRange, laggedBand, type BandAt } from '../core/planner/serving.ts';
import type { Forecast, ModelName } from '../core/forecast/types.ts';
import type { WorkloadConfig } from '../core/config.ts';
import type { Counterfactual } from './counterfactual.ts';

export type { BandAt };

/** The serving ladder (what the HPA and KEDA get); not the model ladder of core/forecast (`Rung` there). */
export type ServingRung = 'fresh' | 'stale' | 'reactive' | 'minimum';
export const SERVING_RUNGS: readonly ServingRung[] = ['fresh', 'stale', 'reactive', 'minimum'];

export interface FittedForecast {
  forecast: Forecast;
  /** Unix ms when the fit finished. */
  fittedAt: number;
  /**
   * Unix ms from which the forecast's age counts: when the data it was fitted on was current (the fit
   * itself when its query brought current samples). A refit on cached history, without new samples
   * (Prometheus down, or back without data), does not make a forecast younger.
   */
  freshAt?: number;
  model: ModelName;
}

export interface BacktestScore {
  mae: number;
  relMae: number | null;
  coverage80: number;
  coverage95: number;
  folds: number;
  /** Unix ms. */
  at: number;
}

export interface Attempt {
  /** Unix ms. */
  at: number;
  ok: boolean;
  stage?: 'query' | 'fit';
  error?: string;
}

export interface WorkloadSnapshot {
  config: WorkloadConfig;
  lagSeconds: number;
  /** The newest forecast that fitted, and the older ones kept to compare forecasts with actuals. */
  forecast?: FittedForecast;
  pastForecasts: readonly FittedForecast[];
  /** The last observed load: value and unix seconds of its sample. */
  observed?: { value: number; at: number };
  /** How much the load moved over one lag in the last hour (root mean square of its changes). */
  lagVolatility?: number;
  /** In dry-run: what the HPA was asked against what the plan would have asked, over the last day. */
  counterfactual?: Counterfactual;
  /** The headroom learned from the load's rises over the last day (core/planner/serving.ts riseHeadroomOf). */
  riseHeadroom?: number;
  score?: BacktestScore;
  trusted: boolean;
  lastAttempt?: Attempt;
  /** The `le` of the histogram bucket whose edge is the latency SLO, as scraped; absent when none is. */
  latencySloBucket?: string;
  /**
   * Resources of one pod of the set that serves now, as a fraction of a primary pod's: the shadow's
   * `resourceFraction` after a promotion (read from the role series), else 1.
   */
  servingPodSize?: number;
}

export interface WorkloadView {
  rung: ServingRung;
  /** Age of the forecast in seconds, if there is one. */
  forecastAgeSeconds?: number;
  /** The plan the forecast (or the ladder below it) gives. */
  plan: Plan;
  /** What the HPA and KEDA get: the plan, or in dry-run the reactive plan. */
  served: Plan;
  /** The forecast at one provisioning lag from now. */
  atHorizon?: BandAt;
  /** The forecast made at least one lag ago for the present moment, to compare with the actual load. */
  forNow?: BandAt;
}

export function plannerSpec(w: WorkloadConfig): PlannerSpec {
  return {
    capacityPerReplica: w.capacityPerReplica,
    method: w.plan,
    targetUtilization: w.targetUtilization,
    primary: { minReplicas: w.primary.minReplicas, maxReplicas: w.primary.maxReplicas },
    shadow: w.shadow ? { minReplicas: w.shadow.minReplicas, maxReplicas: w.shadow.maxReplicas, resourceFraction: w.shadow.resourceFraction } : undefined,
  };
}

/** What the HPA and KEDA are served, and the plan and rung behind it: a view without its bands. */
export type ServedView = Pick<WorkloadView, 'rung' | 'forecastAgeSeconds' | 'plan' | 'served'>;

/**
 * The part of the view the request path needs (the external metrics, KEDA): the rung, the plan and
 * what is served, without the forecast bands the metrics endpoint also exports.
 */
export function servedView(s: WorkloadSnapshot, nowMs: number, ttlSeconds: number): ServedView {
  const spec = plannerSpec(s.config);
  const { rung, observed, forecastAgeSeconds } = rungOf(s, nowMs, ttlSeconds);
  const usesForecast = rung === 'fresh' || rung === 'stale';
  const window = usesForecast ? forecastWindow(s.forecast!.forecast, nowMs / 1000, s.lagSeconds) : undefined;
  const planned = plan(spec, { forecast: window, trusted: s.trusted, observedLoad: observed, lagVolatility: observed !== undefined ? s.lagVolatility : undefined, riseHeadroom: observed !== undefined ? s.riseHeadroom : undefined });
  const unscaled = s.config.dryRun ? plan(spec, { trusted: false, observedLoad: observed }) : planned;
  // The replicas the HPA and KEDA get are pods of the set they scale: after a promotion onto smaller
  // shadow pods, that many more of them (the plan itself stays in primary pods).
  const size = s.servingPodSize ?? 1;
  const served = size < 1 ? { ...unscaled, desiredReplicas: Math.ceil(unscaled.desiredReplicas / size - 1e-9) } : unscaled;
  return { rung, forecastAgeSeconds, plan: planned, served };
}

/**
 * The rung served now and what decides it: whether the forecast still covers the next lag, the load
 * observed within the TTL. The window itself is not copied out here: the forecast loop checks every
 * workload's rung every second.
 */
export function rungOf(s: WorkloadSnapshot, nowMs: number, ttlSeconds: number): { rung: ServingRung; observed?: number; forecastAgeSeconds?: number } {
  const nowS = nowMs / 1000;
  const observed = s.observed && nowS - s.observed.at <= ttlSeconds ? s.observed.value : undefined;
  const covered = s.forecast !== undefined && forecastWindowRange(s.forecast.forecast, nowS, s.lagSeconds) !== undefined;
  const forecastAgeSeconds = s.forecast ? (nowMs - (s.forecast.freshAt ?? s.forecast.fittedAt)) / 1000 : undefined;
  let rung: ServingRung;
  if (covered && forecastAgeSeconds! <= ttlSeconds) {
    rung = s.lastAttempt?.ok !== false ? 'fresh' : 'stale';
  } else if (observed !== undefined) {
    rung = 'reactive';
  } else {
    rung = 'minimum';
  }
  return { rung, observed, forecastAgeSeconds };
}

export function view(s: WorkloadSnapshot, nowMs: number, ttlSeconds: number): WorkloadView {
  return {
    ...servedView(s, nowMs, ttlSeconds),
    atHorizon: s.forecast ? bandAt(s.forecast.forecast, nowMs / 1000 + s.lagSeconds) : undefined,
    forNow: forecastForNow(s, nowMs),
  };
}

function forecastForNow(s: WorkloadSnapshot, nowMs: number): BandAt | undefined {
  return laggedBand(s.forecast ? [s.forecast, ...s.pastForecasts] : s.pastForecasts, nowMs, s.lagSeconds);
}

export type { Plan };
