/**
 * The local target: a workload as two pools of sample-service processes (the primary and the shadow
 * Deployment) behind a mirroring proxy (the router), with a minimal autoscaler record (which set it
 * scales and its floor) that keeps the scaled set at or above the floor, as an HPA would. The shadow's
 * processes work at `resourceFraction` of the primary's speed, as pods with that share of the CPU do.
 */
import type { WorkloadConfig } from '../../core/config.ts';
import { restartStamp, type ObservedState } from '../../core/promotion/promotion.ts';
import type { ActionStep, WorkloadCluster } from '../target.ts';
import { ProcessPool } from './pool.ts';
import { MirroringProxy } from './proxy.ts';

export interface LocalClusterOptions {
  /** Address of the workload's proxy (its "Service"). */
  listen?: string;
  /** Start-up time of a replica before it answers /ready. */
  startupMs?: number;
  workMs?: number;
  /** More environment for each replica process (see sample-service.ts). */
  env?: Record<string, string>;
  /** Replicas at start; default each set's minReplicas. */
  initialReplicas?: { primary?: number; shadow?: number };
}

export class LocalWorkloadCluster implements WorkloadCluster {
  readonly pools: Map<string, ProcessPool>;
  readonly proxy: MirroringProxy;
  readonly canRoute = true;
  autoscaler: { target: string; minReplicas: number };
  readonly events: Array<{ reason: string; message: string }> = [];
  readonly restartedAt: Record<string, string | undefined> = {};

  private constructor(readonly w: WorkloadConfig, options: LocalClusterOptions) {
    const shadow = w.shadow!;
    // A shadow pod has resourceFraction of a primary pod's CPU: its work takes 1 ÷ fraction as long, so
    // one shadow pod serves that fraction of what a primary pod serves (with CONCURRENCY set).
    const workMs = options.workMs ?? 2;
    const make = (set: string, fraction: number) =>
      new ProcessPool({ namespace: w.namespace, workload: w.name, set, startupMs: options.startupMs ?? 500, workMs: workMs / fraction, env: options.env });
    this.pools = new Map([
      [w.primary.name, make(w.primary.name, 1)],
      [shadow.name, make(shadow.name, shadow.resourceFraction)],
    ]);
    this.proxy = new MirroringProxy({ active: w.primary.name, mirror: shadow.name, mirrorPercent: shadow.mirrorPercent }, (set) => this.pools.get(set)?.readyPorts() ?? []);
    this.autoscaler = { target: w.primary.name, minReplicas: w.primary.minReplicas };
  }

  static async start(w: WorkloadConfig, options: LocalClusterOptions = {}): Promise<LocalWorkloadCluster> {
    if (!w.shadow) throw new Error(`workload ${w.namespace}/${w.name}: the local target needs a shadow`);
    const c = new LocalWorkloadCluster(w, options);
    c.pool(w.primary.name).scale(options.initialReplicas?.primary ?? w.primary.minReplicas);
    c.pool(w.shadow.name).scale(options.initialReplicas?.shadow ?? w.shadow.minReplicas);
    await c.proxy.start(options.listen ?? '127.0.0.1:0');
    return c;
  }

  pool(set: string): ProcessPool {
    const p = this.pools.get(set);
    if (!p) throw new Error(`workload ${this.w.namespace}/${this.w.name} has no set ${set}`);
    return p;
  }

  /**
   * Every replica of both sets as Kubernetes' pod discovery would describe it: labelled to be scraped
   * through the example PodMonitor, owned by its set's ReplicaSet, metrics on the port named `metrics`
   * (the shape platform/runtime/podmonitor.ts turns into discovery targets).
   */
  podTargets(): Array<{ address: string; namespace: string; name: string; labels: Record<string, string>; controller: { kind: string; name: string }; container: string; port: string }> {
    return [...this.pools].flatMap(([set, p]) =>
      p.pods().map((pod) => ({
        address: `127.0.0.1:${pod.port}`,
        namespace: this.w.namespace,
        name: pod.name,
        labels: { app: set, 'shadowscale.io/scrape': 'true' },
        controller: { kind: 'ReplicaSet', name: pod.replicaSet },
        container: 'app',
        port: 'metrics',
      })),
    );
  }

  async observe(): Promise<ObservedState> {
    const replicas: ObservedState['replicas'] = {};
    for (const [name, p] of this.pools) replicas[name] = { spec: p.spec, ready: p.ready };
    return { replicas, autoscaler: { ...this.autoscaler }, route: { ...this.proxy.state }, restartedAt: { ...this.restartedAt } };
  }

  async apply(step: ActionStep): Promise<void> {
    switch (step.kind) {
      case 'scale':
        this.pool(step.set).scale(step.replicas);
        return;
      case 'route':
        this.pool(step.active);
        this.proxy.state = { active: step.active, mirror: step.mirror, mirrorPercent: step.mirrorPercent, ...(step.spill > 0 ? { spill: step.spill } : {}) };
        return;
      case 'autoscaler': {
        this.autoscaler = { target: step.target, minReplicas: step.minReplicas };
        // What the HPA does with a raised floor: the scaled set never stays below it.
        const target = this.pool(step.target);
        if (target.spec < step.minReplicas) target.scale(step.minReplicas);
        return;
      }
      case 'restart':
        this.pool(step.set).restart();
        this.restartedAt[step.set] = restartStamp(step.at);
        return;
    }
  }

  async event(reason: string, message: string): Promise<void> {
    this.events.push({ reason, message });
  }

  async close(): Promise<void> {
    await this.proxy.stop();
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}
