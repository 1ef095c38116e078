/**
 * What the receiver reads from Prometheus when it decides: the shadow's readiness KPI (the promotion
 * gate) and the planner's numbers, which the adapter exports (`shadowscale_forecast_desired_replicas`,
 * `shadowscale_shadow_pool_size`).
 */
import type { WorkloadConfig } from '../core/config.ts';
import type { PlanSnapshot } from '../core/promotion/promotion.ts';
import type { PrometheusClient } from '../platform/prometheus.ts';

export interface SignalSource {
  /** 1 from `shadowscale:shadow_ready:bool`; false when absent. Throws when Prometheus cannot answer. */
  shadowReady(w: WorkloadConfig, signal?: AbortSignal): Promise<boolean>;
  /** The adapter's current plan, or undefined when it exports none for the workload. */
  plan(w: WorkloadConfig, signal?: AbortSignal): Promise<PlanSnapshot | undefined>;
}

const selector = (w: WorkloadConfig) => `{namespace=${JSON.stringify(w.namespace)},workload=${JSON.stringify(w.name)}}`;

export class PrometheusSignals implements SignalSource {
  constructor(private readonly client: Pick<PrometheusClient, 'query'>) {}

  async shadowReady(w: WorkloadConfig, signal?: AbortSignal): Promise<boolean> {
    const result = await this.client.query(`max(shadowscale:shadow_ready:bool${selector(w)})`, undefined, signal);
    return result.length > 0 && result[0].value === 1;
  }

  async plan(w: WorkloadConfig, signal?: AbortSignal): Promise<PlanSnapshot | undefined> {
    // Every adapter replica exports the same plan; max() collapses them.
    const [desired, pool] = await Promise.all([
      this.client.query(`max(shadowscale_forecast_desired_replicas${selector(w)})`, undefined, signal),
      this.client.query(`max(shadowscale_shadow_pool_size${selector(w)})`, undefined, signal),
    ]);
    const d = desired[0]?.value;
    const p = pool[0]?.value;
    if (d === undefined || p === undefined || !Number.isFinite(d) || !Number.isFinite(p)) return undefined;
    return { desiredReplicas: d, shadowPoolSize: p };
  }

  /**
   * Does the adapter's plan ask for more replicas than the primary has (a rise within the forecast
   * horizon)? undefined when it exports no plan for the workload.
   */
  async riseExpected(namespace: string, workload: string, replicas: number, signal?: AbortSignal): Promise<boolean | undefined> {
    const result = await this.client.query(`max(shadowscale_forecast_desired_replicas{namespace=${JSON.stringify(namespace)},workload=${JSON.stringify(workload)}})`, undefined, signal);
    const d = result[0]?.value;
    return d === undefined || !Number.isFinite(d) ? undefined : d > replicas;
  }
}
