/**
 * The histogram bucket whose upper edge is a workload's latency SLO. The rules count the requests
 * slower than the SLO as those above that bucket, which is exact only at an edge; the edge must be
 * matched by its `le` label as scraped, which clients spell differently ("0.5", "0.50", "1", "1.0",
 * "1e+06"), and Istio and Envoy write in milliseconds (the mappings mark those `le_unit="ms"`).
 */
import { matchingExactly } from '../platform/prometheus.ts';

export const BUCKET_SERIES = 'shadowscale:deployment_request_latency_bucket:rate5m';

/** The query listing the bucket edges the mappings record for a workload's Deployments. */
export function bucketEdgesQuery(namespace: string, deployments: readonly string[]): string {
  return `group by (le, le_unit) (${BUCKET_SERIES}{namespace=${JSON.stringify(namespace)}, deployment=~${matchingExactly(deployments)}})`;
}

export interface BucketEdge {
  le: string;
  leUnit?: string;
}

/** The edge (its `le` as scraped) equal to `sloSeconds`, or undefined when none is. */
export function sloBucket(edges: readonly BucketEdge[], sloSeconds: number): string | undefined {
  for (const { le, leUnit } of edges) {
    const value = Number(le);
    if (!Number.isFinite(value)) continue;
    const seconds = leUnit === 'ms' ? value / 1000 : value;
    if (Math.abs(seconds - sloSeconds) <= 1e-9 * Math.max(1, sloSeconds)) return le;
  }
  return undefined;
}
