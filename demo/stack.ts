/**
 * The demo's processes: the sample service's pools behind the mirroring proxy (started by the receiver's
 * local target), the receiver, a real Alertmanager with the example route, a real Prometheus with the
 * offered-load history backfilled and the project's rules in compressed time, the adapter, and the
 * demo's own exporter (offered load, ready replicas as kube-state-metrics would export them). One
 * object holds whatever has started, so `stop()` stops exactly that, from any point of the start-up.
 *
 * The pools and their proxy stand for the cluster: they outlive the receiver, as Deployments outlive
 * the receiver's Pod. Each service can fail and come back on its address (`demo --chaos`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';

import { LocalWorkloadCluster, type LocalClusterOptions } from '../actuators/local/cluster.ts';
import { startAdapter, type RunningAdapter } from '../adapter/server.ts';
import type { Audit } from '../alertmanager/audit.ts';
import { startReceiver, type RunningReceiver } from '../alertmanager/service.ts';
import { PrometheusSignals } from '../alertmanager/signals.ts';
import type { Config } from '../core/config.ts';
import { PrometheusClient } from '../platform/prometheus.ts';
import { exampleAlertmanagerConfig, startAlertmanager, type AlertmanagerServer } from '../platform/runtime/alertmanager.ts';
import { examplePodMonitor, podMonitorScrapeConfig, podTargetGroups, writeTargetsFile } from '../platform/runtime/podmonitor.ts';
import { startPrometheus, type PrometheusOptions, type PrometheusServer } from '../platform/runtime/prometheus.ts';
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
  private prometheusOptions?: PrometheusOptions;
  private alertmanagerConfig?: string;
  /** The receiver running now: a receiver that was killed stops writing and auditing at once. */
  private receiverGeneration = 0;
  private receiverAlive = false;

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

    // The "cluster": the pools and the mirroring proxy of the receiver's local target.
    const w = config.workloads.find((x) => x.namespace === NS && x.name === WORKLOAD)!;
    const cluster = await LocalWorkloadCluster.start(w, this.o.local);
    this.cluster = cluster;
    // The receiver, acting on it.
    await this.startReceiver();
    // Restarted on the same address, where Alertmanager sends.
    config.receiver!.listen = this.receiver!.url.replace('http://', '');

    this.alertmanagerConfig = exampleAlertmanagerConfig(this.receiver!.url, join(dir, 'token'), '2s');
    this.alertmanager = await startAlertmanager(this.alertmanagerConfig, this.o.ports.alertmanager);
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
      const own = [config.receiver!.listen, ...(this.adapter ? [this.adapter.httpUrl.replace('http://', '')] : [])];
      writeTargetsFile(ownFile, [{ targets: own, labels: {} }]);
    };
    writeTargets();
    const labels = { namespace: NS, workload: WORKLOAD };
    this.prometheusOptions = {
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
      // Kept in the demo's directory, so that a restarted Prometheus opens the same data.
      dataDir: join(dir, 'prometheus-data'),
    };
    this.prometheus = await startPrometheus(this.prometheusOptions);
    this.pids.add(this.prometheus.pid);
    config.prometheus.url = this.prometheus.url;
    this.prom = new PrometheusClient({ url: this.prometheus.url, timeoutSeconds: 5 });

    this.adapter = await startAdapter(config, { logger: pino({ level: 'warn' }) });
    // Restarted on the same address, where the HPA reads and Prometheus scrapes.
    config.adapter.listen.http = this.adapter.httpUrl.replace('http://', '');
    writeTargets();
    this.targetsTimer = setInterval(writeTargets, 1000);
  }

  private async startReceiver(): Promise<void> {
    const { config } = this.o;
    const generation = ++this.receiverGeneration;
    this.receiverAlive = true;
    const current = () => this.receiverAlive && this.receiverGeneration === generation;
    const signals = new PrometheusSignals({ query: (...args) => new PrometheusClient({ url: config.prometheus.url, timeoutSeconds: 5 }).query(...args) });
    this.receiver = await startReceiver(config, {
      // Only the receiver running now writes (the receiver fences every write on it) and audits.
      audit: { record: (e) => current() && this.o.audit.record(e) },
      leadership: { isLeader: current, leaderAddress: () => undefined },
      signals,
      logger: pino({ level: 'warn' }),
      cluster: () => this.cluster!,
    });
  }

  /** Prometheus stops answering (SIGSTOP): connections are accepted by the kernel and hang. */
  hangPrometheus(): void {
    process.kill(this.prometheus!.pid, 'SIGSTOP');
  }

  /** Prometheus dies (SIGKILL, also when hung): what it had not written to its WAL is lost. */
  async killPrometheus(): Promise<void> {
    process.kill(this.prometheus!.pid, 'SIGKILL');
    await this.prometheus!.stop();
  }

  /** Prometheus again, on the same address and data directory (no backfill: the data is there). */
  async restartPrometheus(): Promise<void> {
    const { history: _backfilled, ...options } = this.prometheusOptions!;
    this.prometheus = await startPrometheus({ ...options, port: this.prometheus!.port });
    this.pids.add(this.prometheus.pid);
  }

  async killAlertmanager(): Promise<void> {
    process.kill(this.alertmanager!.pid, 'SIGKILL');
    await this.alertmanager!.stop();
  }

  /** Alertmanager again on the same address, with empty storage (no notification log, as with no volume). */
  async restartAlertmanager(): Promise<void> {
    this.alertmanager = await startAlertmanager(this.alertmanagerConfig!, Number(this.alertmanager!.address.split(':')[1]));
    this.pids.add(this.alertmanager.pid);
  }

  /**
   * The receiver dies: from this call on it writes nothing more, to the cluster, its state or its audit
   * log (as a killed process would not), and its address stops answering. What it was doing is left
   * half done, for the next receiver to find.
   */
  killReceiver(): Promise<void> {
    this.receiverAlive = false;
    const dead = this.receiver!;
    // Its listener closes now; its in-flight work ends at its next fenced write (never taken).
    return new Promise<void>((resolve) => {
      dead.server.close(() => resolve());
      dead.server.closeAllConnections();
      void dead.stop().catch(() => undefined);
    });
  }

  /** A new receiver on the same address, state file and cluster. */
  async restartReceiver(): Promise<void> {
    await this.startReceiver();
  }

  /** The adapter stops (as for a rolling update) and starts again on the same address. */
  async restartAdapter(): Promise<void> {
    await this.adapter!.stop();
    this.adapter = await startAdapter(this.o.config, { logger: pino({ level: 'warn' }) });
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
    // A hung Prometheus is woken, so that it can be stopped.
    if (this.prometheus) {
      try {
        process.kill(this.prometheus.pid, 'SIGCONT');
      } catch {
        // gone already
      }
    }
    await this.prometheus?.stop().catch(() => undefined);
    await this.alertmanager?.stop().catch(() => undefined);
    await this.cluster?.close().catch(() => undefined);
    await new Promise<void>((r) => (this.metricsServer ? this.metricsServer.close(() => r()) : r()));
    rmSync(this.o.dir, { recursive: true, force: true });
  }
}
