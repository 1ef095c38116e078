/**
 * The Kubernetes HPA algorithm for one `External` metric with an `AverageValue` target, as
 * kube-controller-manager runs it (pkg/controller/podautoscaler: replica_calculator.go
 * GetExternalPerPodMetricReplicas, horizontal.go normalizeDesiredReplicasWithBehaviors), with the
 * default `behavior`:
 *   scale up:   no stabilization, max(4 pods, 100 %) per 15 s
 *   scale down: 300 s stabilization (highest recommendation wins), 100 % per 15 s
 *   tolerance 0.1 around a usage ratio of 1.
 * Pure: the caller passes time and the metric; the controller keeps its recommendation and event
 * history the way the real one does.
 */

/** The controller's default tolerance around a usage ratio of 1 (--horizontal-pod-autoscaler-tolerance). */
export const DEFAULT_TOLERANCE = 0.1;

/** Whether a usage ratio is within the tolerance of 1: the controller then keeps the replica count. */
export function withinTolerance(ratio: number, tolerance = DEFAULT_TOLERANCE): boolean {
  return Math.abs(1 - ratio) <= tolerance;
}

/**
 * The replicas one metric asks for (replica_calculator.go): `current` within the tolerance, else
 * ceil(ratio × current) (the 1e-9 keeps 1.2 × 5 from rounding up to 7).
 */
export function replicasForRatio(ratio: number, current: number, tolerance = DEFAULT_TOLERANCE): number {
  return withinTolerance(ratio, tolerance) ? current : Math.ceil(ratio * current - 1e-9);
}

export interface HpaSpec {
  minReplicas: number;
  maxReplicas: number;
  /** target.averageValue, in the metric's unit. */
  targetAverageValue: number;
  tolerance?: number;
  scaleUpStabilizationSeconds?: number;
  scaleDownStabilizationSeconds?: number;
  /** Policies over `periodSeconds`: the larger of them applies (selectPolicy: Max). */
  scaleUpPods?: number;
  scaleUpPercent?: number;
  scaleDownPercent?: number;
  periodSeconds?: number;
}

interface Recommendation {
  at: number;
  replicas: number;
}

interface ScaleEvent {
  at: number;
  change: number;
}

export class HpaController {
  private readonly recommendations: Recommendation[] = [];
  private readonly upEvents: ScaleEvent[] = [];
  private readonly downEvents: ScaleEvent[] = [];
  private readonly s: Required<HpaSpec>;

  constructor(spec: HpaSpec) {
    this.s = {
      tolerance: DEFAULT_TOLERANCE,
      scaleUpStabilizationSeconds: 0,
      scaleDownStabilizationSeconds: 300,
      scaleUpPods: 4,
      scaleUpPercent: 100,
      scaleDownPercent: 100,
      periodSeconds: 15,
      ...spec,
    };
  }

  /**
   * One sync: `usage` is the metric's total (the HPA sums the items), `specReplicas` the scale target's
   * spec.replicas, `statusReplicas` its status.replicas (pods that exist, ready or not). Returns the
   * new spec.replicas.
   */
  sync(now: number, usage: number, specReplicas: number, statusReplicas: number): number {
    const s = this.s;
    // A scaled-to-zero target is not autoscaled (without the HPAScaleToZero gate).
    if (specReplicas === 0) return 0;

    // GetExternalPerPodMetricReplicas: within tolerance, keep the current count; otherwise
    // ceil(usage / target), independent of how many pods there are.
    let proposal = specReplicas;
    const ratio = usage / (s.targetAverageValue * statusReplicas);
    if (statusReplicas === 0 || !withinTolerance(ratio, s.tolerance)) {
      proposal = Math.ceil(usage / s.targetAverageValue - 1e-9);
    }

    // stabilizeRecommendationWithBehaviors.
    let up = proposal;
    let down = proposal;
    for (const r of this.recommendations) {
      if (r.at > now - s.scaleUpStabilizationSeconds) up = Math.min(up, r.replicas);
      if (r.at > now - s.scaleDownStabilizationSeconds) down = Math.max(down, r.replicas);
    }
    let stabilized = specReplicas;
    if (stabilized < up) stabilized = up;
    if (stabilized > down) stabilized = down;
    this.recommendations.push({ at: now, replicas: proposal });
    const horizon = Math.max(s.scaleUpStabilizationSeconds, s.scaleDownStabilizationSeconds);
    while (this.recommendations.length > 0 && this.recommendations[0].at <= now - horizon) this.recommendations.shift();

    // convertDesiredReplicasWithBehaviorRate.
    let desired = stabilized;
    // Replicas at the start of the policy period: what the limits are relative to.
    const periodStart = specReplicas - this.changeInPeriod(this.upEvents, now) + this.changeInPeriod(this.downEvents, now);
    if (desired > specReplicas) {
      // Worked example: 3 replicas, default policies → max(3 + 4, 3 × 2) = 7 at most this period.
      let limit = Math.max(periodStart + s.scaleUpPods, Math.ceil(periodStart * (1 + s.scaleUpPercent / 100)));
      if (limit < specReplicas) limit = specReplicas;
      desired = Math.min(desired, limit, s.maxReplicas);
    } else if (desired < specReplicas) {
      // int32() truncates in the controller.
      let limit = Math.floor(periodStart * (1 - s.scaleDownPercent / 100));
      if (limit > specReplicas) limit = specReplicas;
      desired = Math.max(desired, limit, s.minReplicas);
    }
    desired = Math.min(s.maxReplicas, Math.max(s.minReplicas, desired));

    if (desired > specReplicas) this.upEvents.push({ at: now, change: desired - specReplicas });
    if (desired < specReplicas) this.downEvents.push({ at: now, change: specReplicas - desired });
    return desired;
  }

  /** Replicas added (or removed) within the current policy period. */
  private changeInPeriod(events: ScaleEvent[], now: number): number {
    while (events.length > 0 && events[0].at <= now - this.s.periodSeconds) events.shift();
    return events.reduce((sum, e) => sum + e.change, 0);
  }
}
