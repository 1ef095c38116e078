/**
 * The cluster model: primary pods that serve `capacityPerReplica` once ready, a provisioning lag from
 * the scale decision to ready, and a pool of shadow pods that cost a fraction of a replica and serve
 * only once promoted (a share of a replica at once, a full one after the in-place resize).
 *
 * Pods are kept in batches by the time they were asked for; scaling down removes the newest first,
 * so pods still starting go before ready ones, as a ReplicaSet does.
 */

interface Batch {
  count: number;
  /** When the pods are ready (primaries) or warm (shadows). */
  readyAt: number;
  /** Promoted shadows serve `partial` of a replica until this time, then a full one. */
  fullAt: number;
}

export interface ClusterSpec {
  capacityPerReplica: number;
  provisioningLagSeconds: number;
  shadowResourceFraction: number;
  resizeDelaySeconds: number;
}

export class Cluster {
  private primaries: Batch[] = [];
  private shadows: Batch[] = [];

  constructor(private readonly spec: ClusterSpec) {}

  /** Pods present from the start, ready. */
  seed(primaries: number, shadows: number, at: number): void {
    if (primaries > 0) this.primaries.push({ count: primaries, readyAt: at, fullAt: at });
    if (shadows > 0) this.shadows.push({ count: shadows, readyAt: at, fullAt: at });
  }

  /** Primary pods that exist, ready or starting (the scale target's status.replicas). */
  primaryCount(): number {
    return sum(this.primaries);
  }

  shadowCount(): number {
    return sum(this.shadows);
  }

  readyShadows(now: number): number {
    return this.shadows.reduce((n, b) => n + (b.readyAt <= now ? b.count : 0), 0);
  }

  /** Load the ready primaries serve at `now`. */
  capacity(now: number): number {
    let replicas = 0;
    for (const b of this.primaries) {
      if (b.readyAt > now) continue;
      replicas += b.fullAt <= now ? b.count : b.count * this.spec.shadowResourceFraction;
    }
    return replicas * this.spec.capacityPerReplica;
  }

  /**
   * Sets the number of primary pods: new ones are ready one provisioning lag from now. With
   * `intoPool`, up to that many of the ready pods a scale-down removes are detached into the shadow
   * pool instead of being killed (relabelled out of the primary's ReplicaSet, resized in place to the
   * shadow fraction): warm at once. Returns how many were detached.
   */
  scalePrimaries(target: number, now: number, intoPool = 0): number {
    const before = this.primaries.reduce((n, b) => n + (b.readyAt <= now ? b.count : 0), 0);
    scale(this.primaries, target, now + this.spec.provisioningLagSeconds);
    const after = this.primaries.reduce((n, b) => n + (b.readyAt <= now ? b.count : 0), 0);
    const detached = Math.min(Math.max(0, intoPool), Math.max(0, before - after));
    if (detached > 0) this.shadows.push({ count: detached, readyAt: now, fullAt: now });
    return detached;
  }

  /** Sets the size of the shadow pool: new shadows warm up in one provisioning lag too. */
  scaleShadows(target: number, now: number): void {
    scale(this.shadows, target, now + this.spec.provisioningLagSeconds);
  }

  /**
   * Promotes up to `count` warm shadows to primaries at `now`: they serve their share of a replica at
   * once and a full replica after the resize. Returns how many were promoted.
   */
  promote(count: number, now: number): number {
    let left = Math.min(count, this.readyShadows(now));
    const promoted = left;
    // The oldest warm shadows go first.
    for (const b of this.shadows) {
      if (left === 0) break;
      if (b.readyAt > now) continue;
      const take = Math.min(b.count, left);
      b.count -= take;
      left -= take;
    }
    this.shadows = this.shadows.filter((b) => b.count > 0);
    if (promoted > 0) this.primaries.unshift({ count: promoted, readyAt: now, fullAt: now + this.spec.resizeDelaySeconds });
    return promoted;
  }

  /**
   * Replica-seconds per second at `now`: primaries cost one each (promoted shadows are resized to a
   * full replica), shadows their resource fraction.
   */
  cost(): { primary: number; shadow: number } {
    return { primary: this.primaryCount(), shadow: this.shadowCount() * this.spec.shadowResourceFraction };
  }
}

function sum(batches: Batch[]): number {
  return batches.reduce((n, b) => n + b.count, 0);
}

function scale(batches: Batch[], target: number, readyAt: number): void {
  const current = sum(batches);
  if (target > current) {
    batches.push({ count: target - current, readyAt, fullAt: readyAt });
    return;
  }
  // Remove the newest pods first (still starting before ready).
  let excess = current - target;
  batches.sort((a, b) => a.readyAt - b.readyAt);
  for (let i = batches.length - 1; i >= 0 && excess > 0; i--) {
    const take = Math.min(batches[i].count, excess);
    batches[i].count -= take;
    excess -= take;
  }
  for (let i = batches.length - 1; i >= 0; i--) if (batches[i].count === 0) batches.splice(i, 1);
}
