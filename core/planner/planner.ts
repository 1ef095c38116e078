/**
 * The planner: a forecast, the capacity of a replica and the provisioning lag in; the load to plan
 * for, the desired primary replicas and the shadow pool size out. Pure: same inputs, same plan, so a
 * retried or replayed decision never drifts.
 */

export type Bound = 'point' | 'upper80' | 'upper95';

export interface PlannerForecast {
  /** Per step over the horizon (which covers at least the provisioning lag). */
  point: readonly number[];
  upper80: readonly number[];
  upper95: readonly number[];
}

/**
 * How the plan is made from the load now and the forecast: `level` (the default) plans for the larger
 * of the two over the lag at a utilisation target; `anchored` adds the forecast's rise and a headroom
 * learned from the load's own rises to the load now.
 */
export type PlanMethod = 'level' | 'anchored';

export interface PlannerSpec {
  capacityPerReplica: number;
  /** Default `level`. */
  method?: PlanMethod;
  /**
   * `level`: the fraction of the serving capacity the planned load may use (default 0.8, the usual
   * HPA target): the plan is the larger of the load now and the forecast's peak over the lag, divided
   * by it.
   */
  targetUtilization?: number;
  primary: { minReplicas: number; maxReplicas: number };
  shadow?: { minReplicas: number; maxReplicas: number; resourceFraction: number };
  /** Which bound a trusted forecast is planned on when the load's volatility is not known (default `upper80`). */
  trustedBound?: Bound;
  /** Standard deviations of the load's change over one lag kept as headroom (default 2: about 98 %). */
  headroomZ?: number;
}

export interface PlannerInput {
  /** Absent when no forecast can be served: the plan is then reactive on `observedLoad`. */
  forecast?: PlannerForecast;
  /** Has this workload's forecast proven reliable on its own backtest? (see `isTrusted`) */
  trusted: boolean;
  /** The current load, when known. */
  observedLoad?: number;
  /**
   * How much the load moves over one provisioning lag: the root mean square of its changes over one
   * lag in the recent past (`lagVolatility`). With it and the observed load, the plan is anchored.
   */
  lagVolatility?: number;
  /**
   * Headroom learned from the load's own rises (`riseHeadroomOf`): when known, it is the headroom,
   * and the volatility is not used.
   */
  riseHeadroom?: number;
}

export interface Plan {
  /** The load capacity is planned for: the load expected over the lag, never below the observed load, with the headroom. */
  predictedLoad: number;
  bound: Bound | 'level' | 'anchored' | 'observed' | 'minimum';
  desiredReplicas: number;
  shadowPoolSize: number;
}

/**
 * How much a load moves over `lagSteps`: the root mean square of x[i] − x[i − lagSteps] over the last
 * `windowSteps` values (gaps skipped). Undefined with fewer than `lagSteps + 2` usable values.
 */
export function lagVolatility(values: ArrayLike<number>, lagSteps: number, windowSteps: number): number | undefined {
  const lag = Math.max(1, Math.round(lagSteps));
  const from = Math.max(lag, values.length - windowSteps);
  let sum = 0;
  let n = 0;
  for (let i = from; i < values.length; i++) {
    const d = values[i] - values[i - lag];
    if (Number.isFinite(d)) {
      sum += d * d;
      n++;
    }
  }
  return n >= 2 ? Math.sqrt(sum / n) : undefined;
}

/**
 * Trust ladder: plan on the upper bound only once the forecast has beaten seasonal-naive on its own
 * backtest *and* its 95 % band covered what happened. An untrusted forecast's band is not evidence of
 * anything, so it is planned on the point forecast, and the observed load keeps it honest.
 */
export function isTrusted(score: { relMae: number | null; coverage95: number } | undefined): boolean {
  if (!score || score.relMae === null) return false;
  return score.relMae < 1 && score.coverage95 >= 0.85;
}

/** The level plan's utilisation target when none is given: the HPA's usual 80 %. */
export const DEFAULT_TARGET_UTILIZATION = 0.8;

export function plan(spec: PlannerSpec, input: PlannerInput): Plan {
  const { capacityPerReplica, primary } = spec;
  const observed = finiteOrUndefined(input.observedLoad);
  const volatility = finiteOrUndefined(input.lagVolatility);
  const rise = finiteOrUndefined(input.riseHeadroom);
  const headroom = rise ?? (volatility !== undefined ? (spec.headroomZ ?? 2) * volatility : undefined);

  let predictedLoad: number;
  let bound: Plan['bound'];
  // The increase still to come, which the shadow pool absorbs (left at 0 by the level plan).
  let increase = 0;
  const points = input.forecast?.point.filter(Number.isFinite) ?? [];
  const level = (spec.method ?? 'level') === 'level';
  const utilization = spec.targetUtilization ?? DEFAULT_TARGET_UTILIZATION;
  if (level && points.length > 0) {
    // Level: capacity for the larger of the load now and the forecast's peak over the lag (replicas
    // asked for now are ready a lag from now, and those removed go at once), at a utilisation target,
    // as an HPA keeps headroom. The headroom is a fixed share of the load; the forecast adds the
    // capacity a reactive HPA would only ask for once the load has risen. The point forecast, trusted
    // or not: its bands are wide on a jumpy load and would keep capacity for a peak that rarely comes.
    // The primaries are asked for the forecast's peak already, so no rise is left for the shadow pool
    // to absorb: it stays at its minimum, the warm standby that spill-over and a promotion use (the
    // receiver's pre-scale still grows it while an alert says the forecast is being outrun). Sizing it
    // for the rise as well paid for that rise twice (bench:scaling, see the README).
    const peak = Math.max(...points);
    bound = 'level';
    predictedLoad = Math.max(observed ?? 0, peak) / utilization;
  } else if (level && observed !== undefined) {
    // No forecast: what an HPA at the same target asks for.
    bound = 'observed';
    predictedLoad = observed / utilization;
  } else if (points.length > 0 && observed !== undefined && headroom !== undefined) {
    // The rungs of plan: anchored (the level plan, with neither a forecast nor a load, falls through
    // them to the minimum). Anchored: the load a lag from now is the load now, plus the rise the forecast's shape expects
    // over the lag, within the load's own volatility over a lag. The forecast, made at its last refit,
    // contributes its shape, not its level; the headroom is wide when the load is jumpy and narrow when
    // it is calm, which a fixed utilisation target cannot do: the load's own rises over a reaction
    // time when they are known, else a multiple of its volatility.
    bound = 'anchored';
    increase = Math.max(0, Math.max(...points) - points[0]);
    predictedLoad = observed + increase + headroom;
  } else if (points.length > 0) {
    bound = input.trusted ? (spec.trustedBound ?? 'upper80') : 'point';
    const series = bound === 'point' ? input.forecast!.point : bound === 'upper80' ? input.forecast!.upper80 : input.forecast!.upper95;
    // Replicas asked for now are ready one lag from now, and the ones removed now are gone at once:
    // capacity must cover the peak from now to the end of the horizon, now included.
    predictedLoad = Math.max(observed ?? 0, ...series.filter(Number.isFinite));
    increase = observed !== undefined ? Math.max(0, predictedLoad - observed) : 0;
  } else if (observed !== undefined) {
    bound = 'observed';
    predictedLoad = observed + (headroom ?? 0);
  } else {
    // Nothing known: plan the floor, and express it as the load the floor serves, so an HPA with an
    // AverageValue target of capacityPerReplica lands on minReplicas and never on 0.
    bound = 'minimum';
    predictedLoad = primary.minReplicas * capacityPerReplica;
  }

  const desiredReplicas = clamp(Math.ceil(predictedLoad / capacityPerReplica - 1e-9), primary.minReplicas, primary.maxReplicas);

  // The seeds' scaleShadowEndpoints, made declarative: the pool holds enough shadows to absorb the
  // increase still to come (the forecast's rise over the lag under the anchored and bound plans; none
  // under the level plan, see above), each shadow serving its share of a replica's capacity;
  // when no increase is coming the pool shrinks back to its minimum. Worked
  // example: capacity 50, fraction 0.5 (a shadow serves 25), observed 400, forecast rising by 80 over
  // the lag → floor(80 / 25) = 3 shadows above the minimum.
  let shadowPoolSize = 0;
  if (spec.shadow) {
    const shadowCapacity = capacityPerReplica * spec.shadow.resourceFraction;
    shadowPoolSize = clamp(spec.shadow.minReplicas + Math.floor(increase / shadowCapacity + 1e-9), spec.shadow.minReplicas, spec.shadow.maxReplicas);
  }
  return { predictedLoad, bound, desiredReplicas, shadowPoolSize };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function finiteOrUndefined(x: number | undefined): number | undefined {
  return x !== undefined && Number.isFinite(x) && x >= 0 ? x : undefined;
}
