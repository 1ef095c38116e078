/**
 * The demo's processes: the sample service's pools behind the mirroring proxy (started by the receiver's
 * local target), the receiver, a real Alertmanager with the example route, a real Prometheus with the
 * offered-load history backfilled and the project's rules in compressed time, the adapter, and the
 * demo's own exporter (offered load, ready replicas as kube-state-metrics would export them). One
 * object holds whatever has started, so `stop()` stops exactly that, from any point of the start-up.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';

import type { LocalClusterOptions, LocalWorkloadCluster } from '../actuators/local/cluster.ts';
import { startAdapter, type RunningAdapter } from '../adapter/server.ts';
import type { Audit } from '../alertmanager/audit.ts';
import { startReceiver, type RunningReceiver } from '../alertmanager/service.ts';
import { PrometheusSignals } from '../alertmanager/signals.ts';
import { workloadKey, type Config } from '../core/config.ts';
import { PrometheusClient } from '../platform/prometheus.ts';
import { exampleAlertmanagerConfig, startAlertmanager, type AlertmanagerServer } from '../platform/runtime/alertmanager.ts';
import { examplePodMonitor, podMonitorScrapeConfig, podTargetGroups, writeTargetsFile } from '../platform/runtime/podmonitor.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';
import { scaleRuleFile } from './rules.ts';
import { historyCounter, type Scenario } from './scenario.ts';

const ROOT = join(import.meta.dirname, '..');
export const NS = 'demo';
export const WORKLOAD = 'web';
export const PRIMARY = 'web';
export const SHADOW = 'web-shadow';
export const TOKEN = 'demo-token-not-a-secret-0123456789';
const RULE_FILES = ['inputs/generic.rules.yml', 'inputs/kubernetes.rules.yml', 'kpis.rules.yml', 'forecast.rules.yml', 'alerts.rules.yml'];

export function requireBinaries(): void {
  for (const bin of ['prometheus', 'promtool', 'prometheus-alertmanager']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${bin} is not installed: run \`npm run setup\` (installs the Debian packages prometheus and prometheus-alertmanager)`);
    }
  }
}

/** The demo's own metrics: the load offered at the entry, and pool sizes shaped like kube-state-metrics. */
function exporter(clusterRef: () => LocalWorkloadCluster | undefined, offeredAtStart: number) {
  const registry = new Registry();
  const offered = new Counter({ name: 'demo_offered_requests_total', help: 'Requests offered to the workload by the load generator: the truth the recorded served load (shadowscale:load:rate1m) can be compared with.', labelNames: ['namespace', 'workload'], registers: [registry] });
  offered.inc({ namespace: NS, workload: WORKLOAD }, offeredAtStart);
  new Gauge({
    name: 'kube_deployment_status_replicas_ready',
    help: 'Ready replicas of each local pool, as kube-state-metrics exports them for Deployments.',
    labelNames: ['namespace', 'deployment'],
    registers: [registry],
    collect() {
      const c = clusterRef();
      if (!c) return;
      for (const set of [PRIMARY, SHADOW]) this.set({ namespace: NS, deployment: set }, c.pool(set).ready);
    },
  });
  const server = http.createServer((_req, res) => {
    void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
  });
  return { server, count: () => offered.inc({ namespace: NS, workload: WORKLOAD }) };
}

export interface StackOptions {
  scenario: Scenario;
  /** The demo's configuration; its Prometheus URL is set once Prometheus runs. */
  config: Config;
  /** A private directory: token, rules, targets, state (removed by stop()). */
  dir: string;
  speed: number;
  ports: { prometheus: number; alertmanager: number };
  /** The local target's pools and proxy. */
  local: LocalClusterOptions;
  /** Where the receiver's audit events go (the narration reads them). */
  audit: Audit;
}

export class DemoStack {
  receiver?: RunningReceiver;
  alertmanager?: AlertmanagerServer;
  prometheus?: PrometheusServer;
  adapter?: RunningAdapter;
  cluster?: LocalWorkloadCluster;
  /** A client of the demo's Prometheus (the live view and the local HPA read it). */
  prom?: PrometheusClient;
  /** Counts one request offered to the service (the load generator calls it). */
  countOffered: () => void = () => undefined;
  /** Every process started, by PID (the pools' are added at the end, when they are known). */
  readonly pids = new Set<number>();
  private metricsServer?: http.Server;
  private targetsTimer?: NodeJS.Timeout;

  constructor(private readonly o: StackOptions) {}

  async start(): Promise<void> {
    const { scenario: s, config, dir } = this.o;
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    // The offered-load history, as Prometheus would have scraped it.
    const history = historyCounter(s, Math.floor(Date.now() / 1000), 1);
    const exp = exporter(() => this.cluster, history.values[history.values.length - 1] ?? 0);
    this.metricsServer = exp.server;
    this.countOffered = exp.count;
    await new Promise<void>((r) => exp.server.listen(0, '127.0.0.1', r));
    const exporterAddress = `127.0.0.1:${(exp.server.address() as AddressInfo).port}`;

    // The receiver, with the local target: it starts the pools and the mirroring proxy.
    const signals = new PrometheusSignals({ query: (...args) => new PrometheusClient({ url: config.prometheus.url, timeoutSeconds: 5 }).query(...args) });
    this.receiver = await startReceiver(config, { audit: this.o.audit, signals, logger: pino({ level: 'warn' }), local: () => this.o.local });
    const cluster = this.receiver.localClusters.get(workloadKey(NS, WORKLOAD))!;
    this.cluster = cluster;

    this.alertmanager = await startAlertmanager(exampleAlertmanagerConfig(this.receiver.url, join(dir, 'token'), '2s'), this.o.ports.alertmanager);
    this.pids.add(this.alertmanager.pid);

    // Prometheus: the history, the rules in compressed time, the scrape jobs.
    const ruleDir = join(dir, 'rules');
    mkdirSync(ruleDir, { recursive: true });
    const timeScale = { speed: this.o.speed, minRangeSeconds: 10, minForSeconds: 3 };
    const ruleFiles = RULE_FILES.map((f) => {
      const out = join(ruleDir, f.replace('/', '-'));
      writeFileSync(out, scaleRuleFile(readFileSync(join(ROOT, 'recording-rules', f), 'utf8'), timeScale));
      return out;
    });
    // The sample service's pods are scraped as the example PodMonitor scrapes an app in a cluster:
    // their metrics get `namespace` and `deployment` from the scrape, nothing else.
    const podsFile = join(dir, 'pods.json');
    const ownFile = join(dir, 'shadowscale.json');
    const writeTargets = () => {
      writeTargetsFile(podsFile, podTargetGroups(cluster.podTargets()));
      const own = [this.receiver!.url.replace('http://', ''), ...(this.adapter ? [this.adapter.httpUrl.replace('http://', '')] : [])];
      writeTargetsFile(ownFile, [{ targets: own, labels: {} }]);
    };
    writeTargets();
    const labels = { namespace: NS, workload: WORKLOAD };
    this.prometheus = await startPrometheus({
      history: [
        { name: 'demo_offered_requests', type: 'counter', labels, timestamps: history.timestamps, values: history.values },
        // What the rules would have recorded over the previous (compressed) days: the served load,
        // which the adapter forecasts, and its 5-minute rate, which the anomaly baseline reads.
        { name: 'shadowscale:load:rate1m', labels, timestamps: history.timestamps, values: history.rates },
        { name: 'shadowscale:load:rate5m', labels, timestamps: history.timestamps.filter((_, i) => i % 5 === 0), values: history.rates.filter((_, i) => i % 5 === 0) },
      ],
      ruleFiles,
      scrapeTargets: [{ job: 'demo', target: exporterAddress, metricRelabelConfigs: [{ action: 'labeldrop', regex: 'instance|job' }] }],
      fileSdJobs: [{ job: 'shadowscale', file: ownFile }],
      scrapeConfigs: [podMonitorScrapeConfig(examplePodMonitor(), podsFile)],
      alertmanagers: [this.alertmanager.address],
      flags: ['--rules.alert.resend-delay=2s'],
      port: this.o.ports.prometheus,
    });
    this.pids.add(this.prometheus.pid);
    config.prometheus.url = this.prometheus.url;
    this.prom = new PrometheusClient({ url: this.prometheus.url, timeoutSeconds: 5 });

    this.adapter = await startAdapter(config, { logger: pino({ level: 'warn' }) });
    writeTargets();
    this.targetsTimer = setInterval(writeTargets, 1000);
  }

  /** The pools' processes, once the run is over (a pool starts and stops them as it scales). */
  collectPoolPids(): void {
    for (const set of [PRIMARY, SHADOW]) for (const pid of this.cluster?.pool(set).startedPids ?? []) this.pids.add(pid);
  }

  /** Stops whatever has started, newest first, and removes the directory. Never throws. */
  async stop(): Promise<void> {
    clearInterval(this.targetsTimer);
    await this.adapter?.stop().catch(() => undefined);
    await this.receiver?.stop().catch(() => undefined);
    await this.prometheus?.stop().catch(() => undefined);
    await this.alertmanager?.stop().catch(() => undefined);
    await new Promise<void>((r) => (this.metricsServer ? this.metricsServer.close(() => r()) : r()));
    rmSync(this.o.dir, { recursive: true, force: true });
  }
}
