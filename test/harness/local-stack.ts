/**
 * The loop on one machine for end-to-end tests: the receiver on its local target (the workload's pools
 * of sample-service processes behind the mirroring proxy), the example Alertmanager configuration, a
 * real Prometheus running the project's rules in compressed time (30×: 10-second windows, `for:` of
 * 3 s) and scraping the pods as the example PodMonitor does, and the adapter. Stopped by `stop()`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { pino } from 'pino';

import { startAdapter, type RunningAdapter } from '../../adapter/server.ts';
import type { Audit } from '../../alertmanager/audit.ts';
import { startReceiver, type RunningReceiver } from '../../alertmanager/service.ts';
import { PrometheusSignals } from '../../alertmanager/signals.ts';
import type { LocalClusterOptions, LocalWorkloadCluster } from '../../actuators/local/cluster.ts';
import type { Config } from '../../core/config.ts';
import { scaleRuleFile } from '../../demo/rules.ts';
import { PrometheusClient } from '../../platform/prometheus.ts';
import { exampleAlertmanagerConfig, startAlertmanager, type AlertmanagerServer } from '../../platform/runtime/alertmanager.ts';
import { examplePodMonitor, podMonitorScrapeConfig, podTargetGroups, writeTargetsFile } from '../../platform/runtime/podmonitor.ts';
import { startPrometheus, type PrometheusServer } from '../../platform/runtime/prometheus.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const RULE_FILES = ['inputs/generic.rules.yml', 'kpis.rules.yml', 'forecast.rules.yml', 'alerts.rules.yml'];

export interface LocalStack {
  receiver: RunningReceiver;
  /** The first workload's pools and proxy. */
  cluster: LocalWorkloadCluster;
  alertmanager: AlertmanagerServer;
  prometheus: PrometheusServer;
  prom: PrometheusClient;
  adapter: RunningAdapter;
  stop(): Promise<void>;
}

/**
 * Starts it in `dir` (which holds the webhook's token file, `token`, that `receiver.tokenFile` names), for `config`,
 * whose `prometheus.url` is set to the Prometheus started here.
 */
export async function startLocalStack(config: Config, options: { dir: string; local: () => LocalClusterOptions; audit?: Audit }): Promise<LocalStack> {
  const { dir } = options;
  const receiver = await startReceiver(config, {
    ...(options.audit ? { audit: options.audit } : {}),
    signals: new PrometheusSignals({ query: (...args) => new PrometheusClient({ url: config.prometheus.url, timeoutSeconds: 5 }).query(...args) }),
    local: options.local,
    logger: pino({ level: 'silent' }),
  });
  const w = config.workloads[0];
  const cluster = receiver.localClusters.get(`${w.namespace}/${w.name}`)!;
  const alertmanager = await startAlertmanager(exampleAlertmanagerConfig(receiver.url, join(dir, 'token'), '1s'));
  const ruleFiles = RULE_FILES.map((f) => {
    const out = join(dir, f.replace('/', '-'));
    writeFileSync(out, scaleRuleFile(readFileSync(join(ROOT, 'recording-rules', f), 'utf8'), { speed: 30, minRangeSeconds: 10, minForSeconds: 3 }));
    return out;
  });
  const podsFile = join(dir, 'pods.json');
  const ownFile = join(dir, 'own.json');
  let adapter: RunningAdapter | undefined;
  const writeTargets = () => {
    writeTargetsFile(podsFile, podTargetGroups(cluster.podTargets()));
    writeTargetsFile(ownFile, [{ targets: [receiver.url, ...(adapter ? [adapter.httpUrl] : [])].map((u) => u.replace('http://', '')), labels: {} }]);
  };
  writeTargets();
  const prometheus = await startPrometheus({
    ruleFiles,
    fileSdJobs: [{ job: 'shadowscale', file: ownFile }],
    scrapeConfigs: [podMonitorScrapeConfig(examplePodMonitor(), podsFile)],
    alertmanagers: [alertmanager.address],
    flags: ['--rules.alert.resend-delay=1s'],
  });
  config.prometheus.url = prometheus.url;
  adapter = await startAdapter(config, { logger: pino({ level: 'silent' }) });
  writeTargets();
  // Pods come and go: Prometheus finds them through the targets file, as through a PodMonitor.
  const targets = setInterval(writeTargets, 500);
  const running = adapter;
  return {
    receiver,
    cluster,
    alertmanager,
    prometheus,
    prom: new PrometheusClient({ url: prometheus.url, timeoutSeconds: 5 }),
    adapter: running,
    async stop() {
      clearInterval(targets);
      await running.stop();
      await receiver.stop();
      await prometheus.stop();
      await alertmanager.stop();
    },
  };
}
