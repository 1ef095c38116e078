/**
 * What the receiver acts on, per workload: observe the cluster as the promotion code sees it, and
 * apply one step. Kubernetes (`kubernetes/cluster.ts`) and the local pool of processes
 * (`local/cluster.ts`) implement it.
 */
import type { ObservedState, Step } from '../core/promotion/promotion.ts';
import { LocalDecision } from '../platform/kubernetes.ts';

export type ActionStep = Extract<Step, { kind: 'scale' | 'route' | 'autoscaler' | 'restart' }>;

export interface WorkloadCluster {
  observe(signal?: AbortSignal): Promise<ObservedState>;
  apply(step: ActionStep, signal?: AbortSignal): Promise<void>;
  /** Can traffic be moved between the sets at all (is a router configured)? */
  readonly canRoute: boolean;
  /** Records a human-readable event on the workload (Kubernetes Events); best effort. */
  event?(reason: string, message: string, type?: 'Normal' | 'Warning'): Promise<void>;
}

/**
 * A write computed from an observation that no longer holds (the value it would replace changed since
 * it was read: an HPA scaled the set, a person edited it). Not retried as it is: the caller observes
 * again and recomputes.
 */
export class StaleObservation extends LocalDecision {
  constructor(message: string) {
    super(message);
    this.name = 'StaleObservation';
  }
}

/** This replica lost the Lease: its in-flight work stops before the next write. */
export class NotLeader extends LocalDecision {
  constructor(message: string) {
    super(message);
    this.name = 'NotLeader';
  }
}
