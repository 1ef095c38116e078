/**
 * The Kubernetes HPA algorithm for one `External` metric with an `AverageValue` target, as
 * kube-controller-manager runs it (pkg/controller/podautoscaler: replica_calculator.go
 * GetExternalPerPodMetricReplicas, horizontal.go normalizeDesiredReplicasWithBehaviors), with the
 * default `behavior`:
 *   scale up:   no stabilization, max(4 pods, 100 %) per 15 s
 *   scale down: 300 s stabilization (highest recommendation wins), 100 % per 15 s
 *   tolerance 0.1 around a usage ratio of 1 (per direction with `behavior.scaleUp/scaleDown.tolerance`,
 *   KEP-4951: alpha in Kubernetes 1.33 behind HPAConfigurableTolerance, beta in 1.35).
 * Pure: the caller passes time and the metric; the controller keeps its recommendation and event
 * history the way the real one does.
 */

/** The controller's default tolerance around a usage ratio of 1 (--horizontal-pod-autoscaler-tolerance). */
export const DEFAULT_TOLERANCE = 0.1;

/**
 * Whether a usage ratio is within the tolerance of 1: the controller then keeps the replica count.
 * `tolerance` applies below 1, `upTolerance` above (the same unless the HPA's behavior sets them apart).
 */
export function withinTolerance(ratio: number, tolerance = DEFAULT_TOLERANCE, upTolerance = tolerance): boolean {
  return 1 - tolerance <= ratio && ratio <= 1 + upTolerance;
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
  /** behavior.scaleUp.tolerance: the tolerance above a ratio of 1 (default: `tolerance`). */
  scaleUpTolerance?: number;
  scaleUpStabilizationSeconds?: number;
  scaleDownStabilizationSeconds?: number;
  /** Policies over `periodSeconds`: the larger of them applies (selectPolicy: Max). */
  scaleUpPods?: number;
  scaleUpPercent?: number;
  scaleDownPercent?: number;
  periodSeconds?: number;
}

/**
 * The highest (or lowest) of the values pushed within the last `windowSeconds`, in amortised
 * constant time (a monotonic queue): the simulator runs a million syncs a trace.
 */
class WindowExtreme {
  private at: number[] = [];
  private value: number[] = [];
  private head = 0;

  constructor(private readonly windowSeconds: number, private readonly highest: boolean) {}

  /** The extreme of the values pushed after `now - windowSeconds`, or undefined. */
  extreme(now: number): number | undefined {
    while (this.head < this.at.length && this.at[this.head] <= now - this.windowSeconds) this.head++;
    return this.head < this.at.length ? this.value[this.head] : undefined;
  }

  push(at: number, value: number): void {
    // Values no more extreme than the new one can never be the answer again.
    while (this.at.length > this.head && (this.highest ? this.value[this.value.length - 1] <= value : this.value[this.value.length - 1] >= value)) {
      this.at.pop();
      this.value.pop();
    }
    this.at.push(at);
    this.value.push(value);
    if (this.head > 64 && this.head * 2 > this.at.length) {
      this.at = this.at.slice(this.head);
      this.value = this.value.slice(this.head);
      this.head = 0;
    }
  }
}

/** Changes made within the policy period, oldest first. */
class RecentChanges {
  private at: number[] = [];
  private change: number[] = [];
  private head = 0;

  push(at: number, change: number): void {
    this.at.push(at);
    this.change.push(change);
  }

  /** The sum of the changes made after `cutoff` (older ones are dropped). */
  sumAfter(cutoff: number): number {
    while (this.head < this.at.length && this.at[this.head] <= cutoff) this.head++;
    if (this.head > 64 && this.head * 2 > this.at.length) {
      this.at = this.at.slice(this.head);
      this.change = this.change.slice(this.head);
      this.head = 0;
    }
    let n = 0;
    for (let i = this.head; i < this.change.length; i++) n += this.change[i];
    return n;
  }
}

export class HpaController {
  /** The lowest and the highest recommendation within the scale-up and scale-down stabilization windows. */
  private readonly upWindow: WindowExtreme;
  private readonly downWindow: WindowExtreme;
  private readonly upEvents = new RecentChanges();
  private readonly downEvents = new RecentChanges();
  private readonly s: Required<HpaSpec>;

  constructor(spec: HpaSpec) {
    const tolerance = spec.tolerance ?? DEFAULT_TOLERANCE;
    this.s = {
      scaleUpStabilizationSeconds: 0,
      scaleDownStabilizationSeconds: 300,
      scaleUpPods: 4,
      scaleUpPercent: 100,
      scaleDownPercent: 100,
      periodSeconds: 15,
      ...spec,
      tolerance,
      scaleUpTolerance: spec.scaleUpTolerance ?? tolerance,
    };
    this.upWindow = new WindowExtreme(this.s.scaleUpStabilizationSeconds, false);
    this.downWindow = new WindowExtreme(this.s.scaleDownStabilizationSeconds, true);
  }

  /** spec.minReplicas as written to the HPA object (the receiver's pre-scale floor); applies from the next sync. */
  setMinReplicas(minReplicas: number): void {
    this.s.minReplicas = minReplicas;
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
    if (statusReplicas === 0 || !withinTolerance(ratio, s.tolerance, s.scaleUpTolerance)) {
      proposal = Math.ceil(usage / s.targetAverageValue - 1e-9);
    }

    // stabilizeRecommendationWithBehaviors.
    let up = proposal;
    let down = proposal;
    const lowest = this.upWindow.extreme(now);
    const highest = this.downWindow.extreme(now);
    if (lowest !== undefined) up = Math.min(up, lowest);
    if (highest !== undefined) down = Math.max(down, highest);
    let stabilized = specReplicas;
    if (stabilized < up) stabilized = up;
    if (stabilized > down) stabilized = down;
    this.upWindow.push(now, proposal);
    this.downWindow.push(now, proposal);

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

    if (desired > specReplicas) this.upEvents.push(now, desired - specReplicas);
    if (desired < specReplicas) this.downEvents.push(now, specReplicas - desired);
    return desired;
  }

  /** Replicas added (or removed) within the current policy period. */
  private changeInPeriod(events: RecentChanges, now: number): number {
    return events.sumAfter(now - this.s.periodSeconds);
  }
}
