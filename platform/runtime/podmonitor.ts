/**
 * PodMonitors and ServiceMonitors, scraped here as the Prometheus Operator would scrape them, so that the demo and the tests
 * label the sample service's metrics with the relabelling rules users apply
 * (deploy/examples/monitoring/podmonitor.yaml), run by Prometheus itself.
 *
 * No Kubernetes runs here, so targets come from a file (file-based discovery) carrying the meta labels
 * Kubernetes' pod discovery would attach (`__meta_kubernetes_namespace`, `__meta_kubernetes_pod_name`,
 * the pod's labels and its controller); the scrape configuration is the one the Operator generates
 * for a PodMonitor: its selector and port as `keep` rules, the `namespace`, `pod`, `container`, `job`
 * and `endpoint` target labels, then the PodMonitor's own relabelings.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const PODMONITOR_EXAMPLE = join(import.meta.dirname, '..', '..', 'deploy', 'examples', 'monitoring', 'podmonitor.yaml');

interface Relabeling {
  sourceLabels?: string[];
  separator?: string;
  targetLabel?: string;
  regex?: string;
  replacement?: string;
  action?: string;
}

interface PodMonitor {
  metadata: { name: string; namespace: string };
  spec: {
    selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> };
    podMetricsEndpoints: Array<{ port: string; path?: string; honorLabels?: boolean; relabelings?: Relabeling[] }>;
  };
}

/** A pod as Kubernetes' pod discovery describes it. */
export interface PodTarget {
  address: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  controller?: { kind: string; name: string };
  container: string;
  port: string;
}

/** The PodMonitor named `name` in the example file (default: the apps' one). */
export function examplePodMonitor(name = 'shadowscale-apps'): PodMonitor {
  const docs = parseAllDocuments(readFileSync(PODMONITOR_EXAMPLE, 'utf8')).map((d) => d.toJS() as PodMonitor & { kind: string });
  const found = docs.find((d) => d.kind === 'PodMonitor' && d.metadata.name === name);
  if (!found) throw new Error(`${PODMONITOR_EXAMPLE}: no PodMonitor ${name}`);
  return found;
}

const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, '_');
const snake = (r: Relabeling) => ({
  ...(r.sourceLabels ? { source_labels: r.sourceLabels } : {}),
  ...(r.separator !== undefined ? { separator: r.separator } : {}),
  ...(r.targetLabel ? { target_label: r.targetLabel } : {}),
  ...(r.regex !== undefined ? { regex: r.regex } : {}),
  ...(r.replacement !== undefined ? { replacement: r.replacement } : {}),
  ...(r.action ? { action: r.action.toLowerCase() } : {}),
});

/** The scrape configuration the Operator makes of the PodMonitor's first endpoint, with targets from `file`. */
export function podMonitorScrapeConfig(pm: PodMonitor, file: string, scrapeInterval = '1s'): Record<string, unknown> {
  const endpoint = pm.spec.podMetricsEndpoints[0];
  const keep: Array<Record<string, unknown>> = [];
  for (const [key, value] of Object.entries(pm.spec.selector.matchLabels ?? {})) {
    keep.push({ action: 'keep', source_labels: [`__meta_kubernetes_pod_label_${sanitize(key)}`, `__meta_kubernetes_pod_labelpresent_${sanitize(key)}`], regex: `(${value});true` });
  }
  for (const e of pm.spec.selector.matchExpressions ?? []) {
    if (e.operator !== 'Exists') throw new Error(`PodMonitor ${pm.metadata.name}: only the Exists operator is translated here, not ${e.operator}`);
    keep.push({ action: 'keep', source_labels: [`__meta_kubernetes_pod_labelpresent_${sanitize(e.key)}`], regex: 'true' });
  }
  return {
    job_name: `podMonitor/${pm.metadata.namespace}/${pm.metadata.name}/0`,
    honor_labels: endpoint.honorLabels ?? false,
    metrics_path: endpoint.path ?? '/metrics',
    scrape_interval: scrapeInterval,
    // Kubernetes' discovery sees a pod when it is created, before it serves; the file is re-read as often.
    file_sd_configs: [{ files: [file], refresh_interval: '1s' }],
    relabel_configs: [
      ...keep,
      { action: 'keep', source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: endpoint.port },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { target_label: 'job', replacement: `${pm.metadata.namespace}/${pm.metadata.name}` },
      { target_label: 'endpoint', replacement: endpoint.port },
      ...(endpoint.relabelings ?? []).map(snake),
    ],
  };
}

/** File-based discovery target groups for pods, with the meta labels Kubernetes' pod discovery gives them. */
export function podTargetGroups(pods: readonly PodTarget[]): Array<{ targets: string[]; labels: Record<string, string> }> {
  return pods.map((p) => ({
    targets: [p.address],
    labels: {
      __meta_kubernetes_namespace: p.namespace,
      __meta_kubernetes_pod_name: p.name,
      __meta_kubernetes_pod_container_name: p.container,
      __meta_kubernetes_pod_container_port_name: p.port,
      ...(p.controller ? { __meta_kubernetes_pod_controller_kind: p.controller.kind, __meta_kubernetes_pod_controller_name: p.controller.name } : {}),
      ...Object.fromEntries(Object.entries(p.labels).flatMap(([k, v]) => [[`__meta_kubernetes_pod_label_${sanitize(k)}`, v], [`__meta_kubernetes_pod_labelpresent_${sanitize(k)}`, 'true']])),
    },
  }));
}

interface ServiceMonitor {
  metadata: { name: string; namespace: string };
  spec: {
    selector: { matchLabels?: Record<string, string> };
    endpoints: Array<{ port: string; path?: string; honorLabels?: boolean; relabelings?: Relabeling[] }>;
  };
}

/** An endpoint of a Service, as Kubernetes' endpoints discovery describes it. */
export interface EndpointTarget {
  address: string;
  namespace: string;
  service: string;
  serviceLabels: Record<string, string>;
  port: string;
  pod: string;
  container: string;
}

/** A ServiceMonitor from a manifest file of the repository, by name. */
export function serviceMonitorFrom(file: string, name: string): ServiceMonitor {
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as ServiceMonitor & { kind: string });
  const found = docs.find((d) => d.kind === 'ServiceMonitor' && d.metadata.name === name);
  if (!found) throw new Error(`${file}: no ServiceMonitor ${name}`);
  return found;
}

/**
 * The scrape configuration the Operator makes of a ServiceMonitor's first endpoint (endpoints role):
 * its selector and port as `keep` rules; `namespace`, `service`, `pod`, `container`, `job` (the Service's
 * name) and `endpoint` target labels; then its own relabelings; `honor_labels` as it says.
 */
export function serviceMonitorScrapeConfig(sm: ServiceMonitor, file: string, scrapeInterval = '1s'): Record<string, unknown> {
  const endpoint = sm.spec.endpoints[0];
  return {
    job_name: `serviceMonitor/${sm.metadata.namespace}/${sm.metadata.name}/0`,
    honor_labels: endpoint.honorLabels ?? false,
    metrics_path: endpoint.path ?? '/metrics',
    scrape_interval: scrapeInterval,
    file_sd_configs: [{ files: [file], refresh_interval: '1s' }],
    relabel_configs: [
      ...Object.entries(sm.spec.selector.matchLabels ?? {}).map(([key, value]) => ({
        action: 'keep',
        source_labels: [`__meta_kubernetes_service_label_${sanitize(key)}`, `__meta_kubernetes_service_labelpresent_${sanitize(key)}`],
        regex: `(${value});true`,
      })),
      { action: 'keep', source_labels: ['__meta_kubernetes_endpoint_port_name'], regex: endpoint.port },
      { source_labels: ['__meta_kubernetes_endpoint_address_target_kind', '__meta_kubernetes_endpoint_address_target_name'], separator: ';', regex: 'Pod;(.*)', target_label: 'pod', replacement: '$1' },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_service_name'], target_label: 'service' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
      { source_labels: ['__meta_kubernetes_service_name'], target_label: 'job', replacement: '$1' },
      { target_label: 'endpoint', replacement: endpoint.port },
      ...(endpoint.relabelings ?? []).map(snake),
    ],
  };
}

/** File-based discovery target groups for Service endpoints, with the meta labels endpoints discovery gives them. */
export function endpointTargetGroups(endpoints: readonly EndpointTarget[]): Array<{ targets: string[]; labels: Record<string, string> }> {
  return endpoints.map((e) => ({
    targets: [e.address],
    labels: {
      __meta_kubernetes_namespace: e.namespace,
      __meta_kubernetes_service_name: e.service,
      __meta_kubernetes_endpoint_port_name: e.port,
      __meta_kubernetes_endpoint_address_target_kind: 'Pod',
      __meta_kubernetes_endpoint_address_target_name: e.pod,
      __meta_kubernetes_pod_name: e.pod,
      __meta_kubernetes_pod_container_name: e.container,
      ...Object.fromEntries(Object.entries(e.serviceLabels).flatMap(([k, v]) => [[`__meta_kubernetes_service_label_${sanitize(k)}`, v], [`__meta_kubernetes_service_labelpresent_${sanitize(k)}`, 'true']])),
    },
  }));
}

/** Writes a file-based discovery targets file whole (write, then rename), so Prometheus never reads half of it. */
export function writeTargetsFile(file: string, groups: ReadonlyArray<{ targets: string[]; labels: Record<string, string> }>): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(groups));
  renameSync(`${file}.tmp`, file);
}
