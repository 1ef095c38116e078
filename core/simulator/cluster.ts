/**
 * The cluster model: primary pods that serve `capacityPerReplica` once ready, a provisioning lag from
 * the scale decision to ready, and a pool of shadow pods that cost a fraction of a replica and serve
 * live traffic only as far as the route sends them a share of it (spill-over, simulate.ts), at their
 * fraction of a replica's capacity, beside the mirrored copy they receive. The product's promotion
 * adds nothing here: it is a swap of roles that first grows the standby to the serving set's size.
 *
 * The one exception is the product's warm pool (`provisioner/pool.ts`): pods a scale-down detaches
 * from the primary (relabelled into the shadow's ReplicaSet, their resources unchanged, so they cost a
 * full replica) return to the primary, ready at once, when it scales up again.
 *
 * Pods are kept in batches by the time they were asked for; scaling down removes the newest first,
 * so pods still starting go before ready ones, as a ReplicaSet does.
 */

interface Batch {
  count: number;
  /** When the pods are ready (primaries) or warm (shadows). */
  readyAt: number;
}

export interface ClusterSpec {
  capacityPerReplica: number;
  provisioningLagSeconds: number;
  shadowResourceFraction: number;
}

export class Cluster {
  private primaries: Batch[] = [];
  private shadows: Batch[] = [];
  /** Ready pods detached from the primary into the pool: full-size, and able to return. */
  private detached: Batch[] = [];

  constructor(private readonly spec: ClusterSpec) {}

  /** Pods present from the start, ready. */
  seed(primaries: number, shadows: number, at: number): void {
    if (primaries > 0) this.primaries.push({ count: primaries, readyAt: at });
    if (shadows > 0) this.shadows.push({ count: shadows, readyAt: at });
  }

  /** Primary pods that exist, ready or starting (the scale target's status.replicas). */
  primaryCount(): number {
    return sum(this.primaries);
  }

  /** Pods of the pool: the planned shadows and the detached primaries. */
  shadowCount(): number {
    return sum(this.shadows) + sum(this.detached);
  }

  detachedCount(): number {
    return sum(this.detached);
  }

  /** Load the ready primaries serve at `now`. */
  capacity(now: number): number {
    settle(this.primaries, now);
    let replicas = 0;
    for (const b of this.primaries) if (b.readyAt <= now) replicas += b.count;
    return replicas * this.spec.capacityPerReplica;
  }

  /** Standby pods ready at `now`, and the load they serve, in replicas' worth: planned shadows at their resource fraction, detached pods whole. */
  standby(now: number): { ready: number; replicas: number } {
    settle(this.shadows, now);
    let shadows = 0;
    for (const b of this.shadows) if (b.readyAt <= now) shadows += b.count;
    const detached = sum(this.detached);
    return { ready: shadows + detached, replicas: shadows * this.spec.shadowResourceFraction + detached };
  }

  /**
   * Sets the number of primary pods: new ones are ready one provisioning lag from now. With
   * `intoPool`, up to that many of the ready pods a scale-down removes are detached into the pool
   * instead of being killed. A scale-up takes detached pods back first, ready at once, as the warm
   * pool returns them to a primary that is scaling up. Returns how many were detached and returned.
   */
  scalePrimaries(target: number, now: number, intoPool = 0): { detached: number; returned: number } {
    // Most syncs change nothing: nothing to return, add or detach.
    if (target === sum(this.primaries)) return NO_MOVE;
    const returned = Math.min(Math.max(0, target - sum(this.primaries)), sum(this.detached));
    if (returned > 0) {
      take(this.detached, returned);
      this.primaries.unshift({ count: returned, readyAt: now });
    }
    const before = this.primaries.reduce((n, b) => n + (b.readyAt <= now ? b.count : 0), 0);
    scale(this.primaries, target, now + this.spec.provisioningLagSeconds);
    const after = this.primaries.reduce((n, b) => n + (b.readyAt <= now ? b.count : 0), 0);
    const detached = Math.min(Math.max(0, intoPool), Math.max(0, before - after));
    if (detached > 0) this.detached.push({ count: detached, readyAt: now });
    return { detached, returned };
  }

  /** Deletes up to `count` detached pods, the oldest first (the pool's idle de-provisioning). */
  dropDetached(count: number): void {
    take(this.detached, Math.min(count, sum(this.detached)));
  }

  /** Sets the size of the shadow pool: new shadows warm up in one provisioning lag too. */
  scaleShadows(target: number, now: number): void {
    scale(this.shadows, target, now + this.spec.provisioningLagSeconds);
  }

  /**
   * Replica-seconds per second: primaries cost one each, planned shadows their resource fraction,
   * detached pods a full replica (they keep the primary's resources).
   */
  cost(): { primary: number; shadow: number } {
    return { primary: this.primaryCount(), shadow: sum(this.shadows) * this.spec.shadowResourceFraction + sum(this.detached) };
  }
}

const NO_MOVE: Readonly<{ detached: number; returned: number }> = Object.freeze({ detached: 0, returned: 0 });

/**
 * Merges the batches ready by `now` into one (ready at the latest of their times), so that a run of a
 * million ticks keeps a few batches rather than one per scale-up: ready pods are alike, and a
 * scale-down still takes the starting ones first. Time only moves forward: asked about a time before
 * the merged batch was ready, the cluster would count it as starting.
 */
function settle(batches: Batch[], now: number): void {
  if (batches.length < 2) return;
  let ready = 0;
  let count = 0;
  let readyAt = -Infinity;
  for (const b of batches) {
    if (b.readyAt > now) continue;
    ready++;
    count += b.count;
    if (b.readyAt > readyAt) readyAt = b.readyAt;
  }
  if (ready < 2) return;
  const starting = batches.filter((b) => b.readyAt > now);
  batches.length = 0;
  batches.push({ count, readyAt }, ...starting);
}

function sum(batches: Batch[]): number {
  let n = 0;
  for (const b of batches) n += b.count;
  return n;
}

function sortedByReadiness(batches: Batch[]): boolean {
  for (let i = 1; i < batches.length; i++) if (batches[i - 1].readyAt > batches[i].readyAt) return false;
  return true;
}

/** Removes `count` pods from the oldest batches. */
function take(batches: Batch[], count: number): void {
  let left = count;
  for (const b of batches) {
    const n = Math.min(b.count, left);
    b.count -= n;
    left -= n;
  }
  for (let i = batches.length - 1; i >= 0; i--) if (batches[i].count === 0) batches.splice(i, 1);
}

function scale(batches: Batch[], target: number, readyAt: number): void {
  const current = sum(batches);
  if (target === current) return;
  if (target > current) {
    batches.push({ count: target - current, readyAt });
    return;
  }
  // Remove the newest pods first (still starting before ready).
  let excess = current - target;
  if (!sortedByReadiness(batches)) batches.sort((a, b) => a.readyAt - b.readyAt);
  for (let i = batches.length - 1; i >= 0 && excess > 0; i--) {
    const take = Math.min(batches[i].count, excess);
    batches[i].count -= take;
    excess -= take;
  }
  for (let i = batches.length - 1; i >= 0; i--) if (batches[i].count === 0) batches.splice(i, 1);
}
