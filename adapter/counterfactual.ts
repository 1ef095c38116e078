/**
 * The dry-run counterfactual: while a workload only exports its forecast (`dryRun`), what the HPA was
 * asked to do (the reactive value it is served) and what the plan would have asked, each replayed
 * through the HPA algorithm (core/hpa.ts) and replicas that take a provisioning lag to be ready
 * (core/simulator/cluster.ts), against the load as it was observed. Over the last day, one bucket a
 * minute: the load each would have left unserved and the replica-seconds each would have cost. What a
 * user reads before turning `dryRun` off; `shadowscale whatif` gives the same comparison on demand.
 */
import { HpaController } from '../core/hpa.ts';
import { Cluster } from '../core/simulator/cluster.ts';

export interface CounterfactualSpec {
  capacityPerReplica: number;
  lagSeconds: number;
  minReplicas: number;
  maxReplicas: number;
  /** Default: one day. */
  windowSeconds?: number;
}

export type Side = 'hpa' | 'shadowscale';
export const SIDES: readonly Side[] = ['hpa', 'shadowscale'];

interface Bucket {
  at: number;
  seconds: number;
  load: number;
  unserved: Record<Side, number>;
  replicaSeconds: Record<Side, number>;
}

const BUCKET_SECONDS = 60;
/** A longer silence (the adapter stopped, Prometheus away) is not counted as elapsed time. */
const MAX_STEP_SECONDS = 60;

export interface CounterfactualTotals {
  /** Seconds observed within the window. */
  seconds: number;
  /** Load observed over them (load × seconds). */
  load: number;
  unserved: Record<Side, number>;
  replicaSeconds: Record<Side, number>;
}

export class Counterfactual {
  private readonly sides: Record<Side, { hpa: HpaController; cluster: Cluster; replicas: number }>;
  private readonly buckets: Bucket[] = [];
  private last?: { at: number; load: number };

  constructor(private readonly spec: CounterfactualSpec) {
    // Both HPAs keep the cluster's tolerance, as the example HPA does.
    const side = () => {
      const cluster = new Cluster({ capacityPerReplica: spec.capacityPerReplica, provisioningLagSeconds: spec.lagSeconds, shadowResourceFraction: 0 });
      return { hpa: new HpaController({ minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas, targetAverageValue: spec.capacityPerReplica }), cluster, replicas: 0 };
    };
    this.sides = { hpa: side(), shadowscale: side() };
  }

  /**
   * One observation at `nowS`: the load observed, and the load each side plans for (the HPA's
   * AverageValue metric targets `capacityPerReplica`, as the adapter's HPA does), synced into each
   * side's HPA. The interval since the previous observation is charged first, as the simulator scores
   * a tick before its decisions: the load then held, against the capacity each side had.
   */
  record(nowS: number, load: number, planned: Record<Side, number>): void {
    if (!(Number.isFinite(load) && load >= 0)) return;
    if (this.last === undefined) {
      // Both start where the load needs them to be, ready.
      for (const s of SIDES) {
        const side = this.sides[s];
        side.replicas = Math.min(this.spec.maxReplicas, Math.max(this.spec.minReplicas, Math.ceil(load / this.spec.capacityPerReplica - 1e-9)));
        side.cluster.seed(side.replicas, 0, nowS - this.spec.lagSeconds);
      }
    } else {
      if (!(nowS > this.last.at)) return;
      // The interval since the last observation: its load held, against the capacity then, and the
      // pods that existed after the last decision.
      const dt = Math.min(MAX_STEP_SECONDS, nowS - this.last.at);
      const bucket = this.bucketAt(this.last.at);
      bucket.seconds += dt;
      bucket.load += this.last.load * dt;
      for (const s of SIDES) {
        const side = this.sides[s];
        bucket.unserved[s] += Math.max(0, this.last.load - side.cluster.capacity(this.last.at)) * dt;
        bucket.replicaSeconds[s] += side.cluster.cost().primary * dt;
      }
    }
    this.last = { at: nowS, load };
    for (const s of SIDES) {
      const side = this.sides[s];
      const metric = planned[s];
      if (Number.isFinite(metric) && metric >= 0) {
        side.replicas = side.hpa.sync(nowS, metric, side.replicas, side.cluster.primaryCount());
        side.cluster.scalePrimaries(side.replicas, nowS);
      }
    }
  }

  /** Sums over the window ending at `nowS`. */
  totals(nowS: number): CounterfactualTotals {
    const from = nowS - (this.spec.windowSeconds ?? 86_400);
    const t: CounterfactualTotals = { seconds: 0, load: 0, unserved: { hpa: 0, shadowscale: 0 }, replicaSeconds: { hpa: 0, shadowscale: 0 } };
    for (const b of this.buckets) {
      if (b.at < from) continue;
      t.seconds += b.seconds;
      t.load += b.load;
      for (const s of SIDES) {
        t.unserved[s] += b.unserved[s];
        t.replicaSeconds[s] += b.replicaSeconds[s];
      }
    }
    return t;
  }

  private bucketAt(nowS: number): Bucket {
    const at = Math.floor(nowS / BUCKET_SECONDS) * BUCKET_SECONDS;
    let b = this.buckets[this.buckets.length - 1];
    if (!b || b.at !== at) {
      b = { at, seconds: 0, load: 0, unserved: { hpa: 0, shadowscale: 0 }, replicaSeconds: { hpa: 0, shadowscale: 0 } };
      this.buckets.push(b);
      const from = nowS - (this.spec.windowSeconds ?? 86_400) - BUCKET_SECONDS;
      while (this.buckets.length > 0 && this.buckets[0].at < from) this.buckets.shift();
    }
    return b;
  }
}
