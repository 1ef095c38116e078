/**
 * `shadowscale check`: is everything a workload needs there? The configuration has already been
 * validated (schema and PromQL syntax) when this runs; here each workload's load query and the series
 * the rules need are asked of a real Prometheus, and each problem is said in one line that names the
 * workload, what is missing and where to look.
 */
import type { Config, WorkloadConfig } from '../core/config.ts';
import { counterWithoutRate, selectorWithoutLabel } from '../core/promql.ts';
import type { InstantSample } from '../platform/prometheus.ts';
import { bucketEdgesQuery, sloBucket } from './slo-bucket.ts';

export interface CheckResult {
  workload: string;
  problems: string[];
  /** What was found, for the line that says the workload is fine. */
  found: string[];
}

type Query = (promql: string) => Promise<InstantSample[]>;

const q = JSON.stringify;

/** Checks every workload (or those `only` names, as namespace/name). Throws when Prometheus cannot be reached at all. */
export async function checkWorkloads(config: Config, query: Query, only?: string): Promise<CheckResult[]> {
  // One query first, so that an unreachable Prometheus is one clear error rather than one per check.
  await query('vector(1)');
  const workloads = config.workloads.filter((w) => only === undefined || `${w.namespace}/${w.name}` === only);
  if (only !== undefined && workloads.length === 0) throw new Error(`--workload ${only}: not in the configuration`);
  const results: CheckResult[] = [];
  for (const w of workloads) results.push(await checkWorkload(w, query));
  return results;
}

async function checkWorkload(w: WorkloadConfig, query: Query): Promise<CheckResult> {
  const problems: string[] = [];
  const found: string[] = [];
  const ns = q(w.namespace);

  // The load: one series, a rate (not a raw counter), in a plausible unit.
  const counter = counterWithoutRate(w.load);
  if (counter) problems.push(`load: ${counter} is a counter read without rate(); the load must be a rate, e.g. sum(rate(${counter}[2m]))`);
  const unscoped = selectorWithoutLabel(w.load, 'namespace');
  if (unscoped) problems.push(`load: ${unscoped} has no namespace matcher, so pods of any namespace that expose it count toward this workload; add namespace=${ns}`);
  try {
    const load = await query(w.load);
    if (load.length === 0) problems.push(`load: ${w.load} returns no series${w.load.includes('shadowscale:load:rate1m') ? ' (the recorded served load: see the traffic and role lines)' : ''}`);
    else if (load.length > 1) problems.push(`load: ${w.load} returns ${load.length} series; it must return one (aggregate it, e.g. with sum())`);
    else if (!Number.isFinite(load[0].value)) problems.push(`load: ${w.load} is ${load[0].value} now`);
    else {
      found.push(`load ${load[0].value.toPrecision(4)} now`);
      const ceiling = w.primary.maxReplicas * w.capacityPerReplica;
      if (load[0].value > 10 * ceiling) {
        problems.push(`load: ${load[0].value.toPrecision(4)} is more than 10 × maxReplicas × capacityPerReplica (${ceiling}); are the load and capacityPerReplica in the same unit (requests per second)?`);
      }
    }
  } catch (error) {
    problems.push(`load: ${(error as Error).message}`);
  }

  // The roles the rules join on: the receiver's or the adapter's configured names.
  const roles = await query(`shadowscale:deployment_role:info{namespace=${ns},workload=${q(w.name)}}`);
  if (roles.length === 0) {
    problems.push('roles: no shadowscale:deployment_role:info; load recording-rules/kpis.rules.yml and let Prometheus scrape the adapter (shadowscale_workload_deployment_info) or the receiver (shadowscale_workload_serving_share)');
  } else {
    const primary = roles.find((r) => r.labels.role === 'primary')?.labels.deployment;
    found.push(`${primary ?? '?'} serves`);
  }

  // Traffic per Deployment, as the input mapping records it, and why it is missing when it is.
  for (const deployment of [w.primary.name, ...(w.shadow ? [w.shadow.name] : [])]) {
    const recorded = await query(`shadowscale:deployment_requests:rate5m{namespace=${ns},deployment=${q(deployment)}}`);
    if (recorded.length > 0) continue;
    problems.push(`traffic: no shadowscale:deployment_requests:rate5m for Deployment ${w.namespace}/${deployment}; ${await whyNoTraffic(w.namespace, deployment, query)}`);
  }

  // The latency SLO as a bucket edge, so the rules count slow requests exactly (else they use the p99).
  const edges = (await query(bucketEdgesQuery(w.namespace, [w.primary.name, ...(w.shadow ? [w.shadow.name] : [])]))).map((e) => ({ le: e.labels.le ?? '', leUnit: e.labels.le_unit }));
  if (edges.length > 0) {
    const le = sloBucket(edges, w.slo.latencyP99);
    if (le !== undefined) found.push(`latency SLO at bucket le="${le}"`);
    else {
      const listed = edges.map((e) => e.le).filter((le) => le !== '+Inf').sort((a, b) => Number(a) - Number(b)).join(', ');
      const unit = edges.some((e) => e.leUnit === 'ms') ? ' (milliseconds)' : ' (seconds)';
      problems.push(`latency: slo.latencyP99 ${w.slo.latencyP99}s is not an edge of the latency histogram (le: ${listed}${unit}); the latency alerts fall back to the p99, which can promote on a few slow requests: set the SLO to an edge or add one`);
    }
  }
  return { workload: `${w.namespace}/${w.name}`, problems, found };
}

/** Looks at the raw inputs of each mapping to say what is missing: the series, or a label on them. */
async function whyNoTraffic(namespace: string, deployment: string, query: Query): Promise<string> {
  const ns = q(namespace);
  const count = async (promql: string) => (await query(`count(${promql})`))[0]?.value ?? 0;
  if ((await count(`http_requests_total{namespace=${ns}}`)) > 0) {
    if ((await count(`http_requests_total{namespace=${ns},deployment!=""}`)) === 0) {
      return `http_requests_total in namespace ${namespace} has no deployment label: scrape the pods as deploy/examples/monitoring/podmonitor.yaml does`;
    }
    if ((await count(`http_requests_total{namespace=${ns},deployment=${q(deployment)}}`)) === 0) {
      return `http_requests_total has no series with deployment="${deployment}" (is it running, and are its pods labelled for the PodMonitor?)`;
    }
    return 'http_requests_total is there: load recording-rules/inputs/generic.rules.yml';
  }
  if ((await count(`istio_requests_total{destination_workload_namespace=${ns}}`)) > 0) {
    if ((await count(`istio_requests_total{destination_workload_namespace=${ns},destination_workload=${q(deployment)}}`)) === 0) return `no istio_requests_total with destination_workload="${deployment}"`;
    return 'istio_requests_total is there: load recording-rules/inputs/istio.rules.yml';
  }
  if ((await count(`envoy_cluster_upstream_rq_total{namespace=${ns}}`)) > 0) {
    if ((await count(`envoy_cluster_upstream_rq_total{namespace=${ns},envoy_cluster_name=${q(deployment)}}`)) === 0) return `no Envoy upstream cluster named "${deployment}"`;
    return 'envoy_cluster_upstream_rq_total is there: load recording-rules/inputs/envoy.rules.yml';
  }
  if ((await count(`http_requests_total{deployment=${q(deployment)}}`)) > 0) {
    return `http_requests_total{deployment="${deployment}"} has no namespace="${namespace}" label: the scrape must keep the pod's namespace`;
  }
  return `no request metrics at all in namespace ${namespace} (http_requests_total, istio_requests_total or envoy_cluster_upstream_rq_total)`;
}
