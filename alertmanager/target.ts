/**
 * What the receiver acts on, per workload: observe the cluster as the promotion code sees it, and
 * apply one step. Kubernetes (`kubernetes/cluster.ts`) and the local pool of processes
 * (`local/cluster.ts`) implement it.
 */
import type { ObservedState, Step } from '../core/promotion/promotion.ts';

export type ActionStep = Extract<Step, { kind: 'scale' | 'route' | 'autoscaler' | 'restart' }>;

export interface WorkloadCluster {
  observe(signal?: AbortSignal): Promise<ObservedState>;
  apply(step: ActionStep, signal?: AbortSignal): Promise<void>;
  /** Can traffic be moved between the sets at all (is a router configured)? */
  readonly canRoute: boolean;
  /** Records a human-readable event on the workload (Kubernetes Events); best effort. */
  event?(reason: string, message: string, type?: 'Normal' | 'Warning'): Promise<void>;
}
