/**
 * `shadowscale demo`: the whole loop on one machine, with real parts. A real trace is replayed in
 * compressed time against a sample service (pools of primary and shadow processes behind a
 * mirroring proxy, a capacity limit per process), with its history backfilled into a real
 * Prometheus running the project's rules (durations compressed alike) and a real Alertmanager with
 * the example configuration. The adapter forecasts the load; a local HPA (the Kubernetes algorithm)
 * scales the serving pool on the predicted load (or, `--no-shadow`, on the observed load); the
 * receiver pre-scales shadows, promotes a ready shadow when the primary degrades, and reverts.
 * Everything listens on loopback and is stopped, by PID, at the end or on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { pino } from 'pino';
import { stringify } from 'yaml';

import { startAdapter, type RunningAdapter } from '../adapter/server.ts';
import { PrometheusClient } from '../platform/prometheus.ts';
import { parseQuantity } from '../platform/quantity.ts';
import type { AuditEvent, Audit } from '../alertmanager/audit.ts';
import type { ActionStep } from '../alertmanager/target.ts';
import type { DesiredState } from '../core/promotion/promotion.ts';
import type { LocalWorkloadCluster } from '../alertmanager/local/cluster.ts';
import { startReceiver, type RunningReceiver } from '../alertmanager/service.ts';
import { PrometheusSignals } from '../alertmanager/signals.ts';
import { parseConfig, workloadKey, type Config } from '../core/config.ts';
import { parseSeriesCsv } from '../core/series/csv.ts';
import { HpaController } from '../core/hpa.ts';
import { LoadGenerator } from './loadgen.ts';
import { scaleRuleFile } from './rules.ts';
import { exampleAlertmanagerConfig, startAlertmanager, type AlertmanagerServer } from '../platform/runtime/alertmanager.ts';
import { examplePodMonitor, podMonitorScrapeConfig, podTargetGroups, writeTargetsFile } from '../platform/runtime/podmonitor.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';
import { DEFAULT_TRACE, DEFAULTS } from './defaults.ts';
import { historyCounter, rpsAt, scenario, surgePeak, traceTimeAt, type Scenario } from './scenario.ts';

const ROOT = join(import.meta.dirname, '..');
export { DEFAULT_TRACE };
const NS = 'demo';
const WORKLOAD = 'web';
const PRIMARY = 'web';
const SHADOW = 'web-shadow';
const TOKEN = 'demo-token-not-a-secret-0123456789';

export interface DemoOptions {
  /** Wall seconds. */
  durationSeconds: number;
  /** Trace seconds per wall second. */
  speed: number;
  trace: string;
  /** Load multiplier of the injected surge (1: none). */
  surge: number;
  /** Busiest request rate of the trace, once scaled. */
  peakRps: number;
  /** Requests per second one replica serves. */
  capacityRps: number;
  /** Replica start-up time (the provisioning lag), wall seconds. */
  startupSeconds: number;
  noShadow: boolean;
  /** Loopback ports; 0 = any free one. */
  ports: { prometheus: number; alertmanager: number; proxy: number };
  /** Where the HTML report goes; undefined: none. */
  report?: string;
  /** Print the live view (the test turns it off). */
  print: (line: string) => void;
}

export const DEFAULT_OPTIONS: DemoOptions = {
  ...DEFAULTS,
  trace: DEFAULT_TRACE,
  noShadow: false,
  ports: { prometheus: 0, alertmanager: 0, proxy: 0 },
  print: (line) => process.stdout.write(`${line}\n`),
};

export interface DemoEvent {
  /** Wall seconds since the start. */
  t: number;
  kind: 'prescale' | 'promote' | 'revert' | 'restart' | 'scale' | 'alert' | 'degrade' | 'surge';
  text: string;
}

export interface DemoSummary {
  offered: number;
  unserved: number;
  unservedFraction: number;
  p99Seconds: number;
  p50Seconds: number;
  replicaSeconds: number;
  actions: Record<string, number>;
  promotions: number;
  reverts: number;
  prescales: number;
}

export interface DemoResult {
  summary: DemoSummary;
  events: DemoEvent[];
  audit: AuditEvent[];
  /** Times the adapter served a forecast-based desired replica count (the local HPA read it). */
  forecastsServed: number;
  /** When each alert was first seen firing (wall seconds since the start). */
  alertsFirstFiring: Record<string, number>;
  /** Checks (one a second) that saw ShadowscaleMirrorBroken firing after the first promotion. */
  mirrorBrokenAfterPromotion: number;
  /** The PromQL the adapter forecast from. */
  loadQuery: string;
  surgePeakAt: number;
  degradeAt: number;
  /** The serving set and floors at the end. */
  final: { active: string; autoscalerTarget: string; floor: number; shadowReplicas: number };
  /** Every process the demo started (to check none is left). */
  pids: number[];
  reportFile?: string;
}

function requireBinaries(): void {
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

function demoConfig(s: Scenario, o: DemoOptions, dir: string): Config {
  const day = Math.round(86_400 / o.speed);
  const historySeconds = Math.floor((s.historyDays * 86_400) / o.speed);
  return parseConfig(
    stringify({
      prometheus: { url: 'http://127.0.0.1:9', timeout: '10s' },
      adapter: { listen: { http: '127.0.0.1:0' }, history: `${historySeconds}s`, step: '1s', refresh: '2s', forecastTTL: '60s', concurrency: 1 },
      receiver: {
        listen: '127.0.0.1:0',
        tokenFile: join(dir, 'token'),
        target: 'local',
        cooldown: '15s',
        prescaleMax: `${o.durationSeconds}s`,
        minHold: '15s',
        // The local proxy switches at once; in-flight requests finish within a second or two.
        drain: '3s',
        maxRoleChangesPerHour: 10,
        resync: '2s',
        stateFile: join(dir, 'receiver-state.json'),
        auditFile: join(dir, 'audit.jsonl'),
      },
      workloads: [
        {
          name: WORKLOAD,
          namespace: NS,
          // No load query: the recorded served load of the workload (shadowscale:load:rate1m), as in a cluster.
          capacityPerReplica: o.capacityRps,
          provisioningLag: `${Math.ceil(o.startupSeconds) + 2}s`,
          model: 'mstl',
          seasonality: [`${day}s`],
          slo: { latencyP99: '300ms', errorRatio: 0.02 },
          primary: { name: PRIMARY, minReplicas: 2, maxReplicas: 30 },
          // One standby replica (working one request at a time) queues more than several serving ones at the
          // same utilisation, and its p99 over a compressed 10 s window is the slowest of ~20 mirrored
          // requests, and histogram buckets make that ratio jump (0.25 s ÷ 0.05 s is 5): two arriving
          // together already put it 2-3× the serving set's. 5× still tells a degraded replica (10× slower)
          // from a healthy one.
          shadow: { name: SHADOW, minReplicas: o.noShadow ? 0 : 1, maxReplicas: 15, mirrorPercent: o.noShadow ? 0 : 10, resourceFraction: 1, readiness: { latencyRatioMax: 5 } },
          actions: !o.noShadow,
        },
      ],
    }),
  );
}

export async function runDemo(partial: Partial<DemoOptions> = {}): Promise<DemoResult> {
  const o: DemoOptions = { ...DEFAULT_OPTIONS, ...partial, ports: { ...DEFAULT_OPTIONS.ports, ...(partial.ports ?? {}) } };
  requireBinaries();
  const series = parseSeriesCsv(readFileSync(o.trace, 'utf8'), o.trace);
  const s = scenario(series, {
    speed: o.speed,
    durationSeconds: o.durationSeconds,
    historyDays: 5,
    peakRps: o.peakRps,
    surge: { factor: o.surge, at: Math.round(o.durationSeconds * 0.25), rampSeconds: Math.max(20, Math.round(o.durationSeconds * 0.15)), holdSeconds: Math.max(10, Math.round(o.durationSeconds * 0.08)) },
    degrade: { at: Math.round(o.durationSeconds * 0.6), seconds: Math.max(20, Math.round(o.durationSeconds * 0.12)) },
  });
  const dir = mkdtempSync(join(tmpdir(), 'shadowscale-demo-'));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  const config = demoConfig(s, o, dir);
  const w = config.workloads[0];
  const print = o.print;

  let receiver: RunningReceiver | undefined;
  let alertmanager: AlertmanagerServer | undefined;
  let prometheus: PrometheusServer | undefined;
  let adapter: RunningAdapter | undefined;
  let metricsServer: http.Server | undefined;
  let load: LoadGenerator | undefined;
  const timers: NodeJS.Timeout[] = [];
  const pids = new Set<number>();
  const events: DemoEvent[] = [];
  const audit: AuditEvent[] = [];
  let started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  const event = (kind: DemoEvent['kind'], text: string) => {
    events.push({ t: elapsed(), kind, text });
    print(`  ${fmtClock(elapsed())}  ${'»'} ${text}`);
  };

  let stopping = false;
  const cleanup = async () => {
    stopping = true;
    for (const t of timers) clearInterval(t);
    await load?.stop();
    await adapter?.stop().catch(() => undefined);
    await receiver?.stop().catch(() => undefined);
    await prometheus?.stop().catch(() => undefined);
    await alertmanager?.stop().catch(() => undefined);
    await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => {
    print('\nstopping (Ctrl-C): every process started is being stopped');
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    print(`shadowscale demo: ${o.trace.split('/').pop()} from ${traceTimeAt(s, 0).toISOString().slice(0, 16)}, ${o.speed}× (a day in ${(86_400 / o.speed / 60).toFixed(1)} min), ${o.durationSeconds} s, ${o.noShadow ? 'reactive HPA only (--no-shadow)' : 'shadowscale'}`);
    print(`  surge ×${o.surge} at ${fmtClock(s.surge.at)} (peak ${fmtClock(surgePeak(s))}); the primary degrades at ${fmtClock(s.degrade.at)} for ${s.degrade.seconds} s`);

    // The offered-load history, as Prometheus would have scraped it.
    const now = Math.floor(Date.now() / 1000);
    const history = historyCounter(s, now, 1);
    let cluster: LocalWorkloadCluster | undefined;
    const exp = exporter(() => cluster, history.values[history.values.length - 1] ?? 0);
    metricsServer = exp.server;
    await new Promise<void>((r) => exp.server.listen(0, '127.0.0.1', r));
    const exporterAddress = `127.0.0.1:${(exp.server.address() as AddressInfo).port}`;

    // The receiver, with the local target: it starts the pools and the mirroring proxy.
    const narrator = new Narrator(event, w.primary.minReplicas, w.shadow?.minReplicas ?? 0);
    const recorder: Audit = {
      record: (e) => {
        audit.push(e);
        if (e.event === 'decision') narrator.decided(e.after as DesiredState);
        if (e.event === 'action' && e.result === 'success') narrator.acted(e.step as ActionStep);
      },
    };
    const signals = new PrometheusSignals({ query: (...args) => new PrometheusClient({ url: config.prometheus.url, timeoutSeconds: 5 }).query(...args) });
    receiver = await startReceiver(config, {
      audit: recorder,
      signals,
      logger: pino({ level: 'warn' }),
      local: () => ({
        listen: `127.0.0.1:${o.ports.proxy}`,
        startupMs: o.startupSeconds * 1000,
        workMs: 40,
        env: { CONCURRENCY: String(Math.max(1, Math.round((o.capacityRps * 40) / 1000))), QUEUE: String(Math.round(o.capacityRps * 2)) },
        initialReplicas: { primary: Math.max(2, Math.ceil(rpsAt(s, 0) / o.capacityRps)), shadow: o.noShadow ? 0 : 1 },
      }),
    });
    cluster = receiver.localClusters.get(workloadKey(NS, WORKLOAD))!;
    const proxy = cluster.proxy.address;

    alertmanager = await startAlertmanager(exampleAlertmanagerConfig(receiver.url, join(dir, 'token'), '2s'), o.ports.alertmanager);
    pids.add(alertmanager.pid);

    // Prometheus: the history, the rules in compressed time, the scrape jobs.
    const ruleDir = join(dir, 'rules');
    execFileSync('mkdir', ['-p', ruleDir]);
    const timeScale = { speed: o.speed, minRangeSeconds: 10, minForSeconds: 3 };
    const ruleFiles = ['inputs/generic.rules.yml', 'inputs/kubernetes.rules.yml', 'kpis.rules.yml', 'forecast.rules.yml', 'alerts.rules.yml'].map((f) => {
      const out = join(ruleDir, f.replace('/', '-'));
      writeFileSync(out, scaleRuleFile(readFileSync(join(ROOT, 'recording-rules', f), 'utf8'), timeScale));
      return out;
    });
    // The sample service's pods are scraped as the example PodMonitor scrapes an app in a cluster:
    // their metrics get `namespace` and `deployment` from the scrape, nothing else.
    const podsFile = join(dir, 'pods.json');
    const ownFile = join(dir, 'shadowscale.json');
    const writeTargets = () => {
      writeTargetsFile(podsFile, podTargetGroups(cluster!.podTargets()));
      const own = [receiver!.url.replace('http://', ''), ...(adapter ? [adapter.httpUrl.replace('http://', '')] : [])];
      writeTargetsFile(ownFile, [{ targets: own, labels: {} }]);
    };
    writeTargets();
    const labels = { namespace: NS, workload: WORKLOAD };
    prometheus = await startPrometheus({
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
      alertmanagers: [alertmanager.address],
      flags: ['--rules.alert.resend-delay=2s'],
      port: o.ports.prometheus,
    });
    pids.add(prometheus.pid);
    config.prometheus.url = prometheus.url;

    adapter = await startAdapter(config, { logger: pino({ level: 'warn' }) });
    writeTargets();
    timers.push(setInterval(() => !stopping && writeTargets(), 1000));
    print(`  Prometheus ${prometheus.url}  Alertmanager ${alertmanager.url}  adapter ${adapter.httpUrl}  receiver ${receiver.url}  service http://${proxy}/`);

    // The HPA, locally: the Kubernetes algorithm, every second, on the serving pool.
    const prom = new PrometheusClient({ url: prometheus.url, timeoutSeconds: 5 });
    const hpa = new HpaController({ minReplicas: 1, maxReplicas: w.primary.maxReplicas, targetAverageValue: o.noShadow ? o.capacityRps * 0.8 : o.capacityRps, scaleDownStabilizationSeconds: 30, periodSeconds: 1 });
    let forecastsServed = 0;
    const hpaTick = async () => {
      let usage: number | undefined;
      if (o.noShadow) {
        const r = await prom.query(w.load).catch(() => []);
        usage = r[0]?.value;
      } else {
        const res = await fetch(`${adapter!.httpUrl}/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/shadowscale_predicted_load?labelSelector=workload%3D${WORKLOAD}`).catch(() => undefined);
        if (res?.ok) {
          const body = (await res.json()) as { items: Array<{ value: string }> };
          if (body.items.length > 0) {
            usage = body.items.reduce((sum, i) => sum + parseQuantity(i.value), 0);
            forecastsServed++;
          }
        }
      }
      if (usage === undefined || !Number.isFinite(usage) || stopping) return;
      const target = cluster!.autoscaler.target;
      const pool = cluster!.pool(target);
      const proposed = hpa.sync(elapsed(), usage, Math.max(1, pool.spec), Math.max(1, pool.spec));
      const desired = Math.max(cluster!.autoscaler.minReplicas, proposed);
      if (desired !== pool.spec) pool.scale(desired);
    };
    timers.push(setInterval(() => void hpaTick(), 1000));

    // Replica-seconds (shadows at their resource fraction, which is 1 here: full-size processes).
    let replicaSeconds = 0;
    timers.push(
      setInterval(() => {
        // Counted from the first request on.
        if (load) replicaSeconds += cluster!.pool(PRIMARY).spec + cluster!.pool(SHADOW).spec;
      }, 1000),
    );

    // The load starts once the serving pool is ready and the adapter serves a forecast.
    const readyBy = Date.now() + 60_000;
    while (Date.now() < readyBy) {
      const adapterReady = await fetch(`${adapter.httpUrl}/readyz`).then((r) => r.ok).catch(() => false);
      if (adapterReady && cluster.pool(PRIMARY).ready >= cluster.pool(PRIMARY).spec && cluster.pool(SHADOW).ready >= cluster.pool(SHADOW).spec) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    started = Date.now();
    load = new LoadGenerator(() => proxy, () => rpsAt(s, elapsed()));
    load.onOffered = exp.count;
    load.start();

    // Scenario events and the live view.
    let surged = false;
    let degraded = false;
    let lastAlerts = '';
    const alertsFirstFiring: Record<string, number> = {};
    let mirrorBrokenAfterPromotion = 0;
    timers.push(
      setInterval(() => {
        const t = elapsed();
        if (!surged && t >= s.surge.at && o.surge > 1) {
          surged = true;
          event('surge', `surge: load ×${o.surge} over ${s.surge.rampSeconds} s`);
        }
        if (!degraded && t >= s.degrade.at) {
          degraded = true;
          const serving = cluster!.proxy.state.active;
          const ports = cluster!.pool(serving).ports();
          event('degrade', `the serving set ${serving} degrades for ${s.degrade.seconds} s (${ports.length} replicas 10× slower)`);
          for (const p of ports) void fetch(`http://127.0.0.1:${p}/control?workMs=400&forMs=${s.degrade.seconds * 1000}`).catch(() => undefined);
        }
      }, 250),
    );
    timers.push(
      setInterval(() => {
        void (async () => {
          const q = async (expr: string) => (await prom.query(expr).catch(() => []))[0]?.value;
          const [observed, forecast, upper, desired] = await Promise.all([
            q(`shadowscale_observed_load{workload="${WORKLOAD}"}`),
            q(`shadowscale_forecast_load{workload="${WORKLOAD}",quantile="0.5"}`),
            q(`shadowscale_forecast_load{workload="${WORKLOAD}",quantile="0.975"}`),
            q(`shadowscale_desired_replicas{workload="${WORKLOAD}"}`),
          ]);
          if (stopping) return;
          const c = cluster!;
          const st = load!.stats;
          print(
            `  ${fmtClock(elapsed())}  ${traceTimeAt(s, elapsed()).toISOString().slice(5, 16).replace('T', ' ')}  load ${n(rpsAt(s, elapsed()))} rps (seen ${n(observed)})  forecast ${n(forecast)} ≤${n(upper)}  ` +
              `primary ${c.pool(PRIMARY).ready}/${c.pool(PRIMARY).spec}  shadow ${c.pool(SHADOW).ready}/${c.pool(SHADOW).spec}  desired ${n(desired)}  serving ${c.proxy.state.active}  unserved ${st.errors + st.timeouts + st.dropped}`,
          );
        })();
      }, 5000),
    );

    timers.push(
      setInterval(() => {
        void (async () => {
          const alerts = (await prom.query(`ALERTS{alertstate="firing",workload="${WORKLOAD}"}`).catch(() => [])).map((a) => a.labels.alertname.replace('Shadowscale', '')).sort();
          if (stopping) return;
          const alertText = [...new Set(alerts)].join(',');
          for (const a of alerts) alertsFirstFiring[`Shadowscale${a}`] ??= elapsed();
          // The KPIs follow the roles: once a promotion has moved the traffic, the mirror must still look whole.
          if (alerts.includes('MirrorBroken') && events.some((e) => e.kind === 'promote')) mirrorBrokenAfterPromotion++;
          if (alertText !== lastAlerts) {
            event('alert', `alerts firing: ${alertText || 'none'}`);
            lastAlerts = alertText;
          }
        })();
      }, 1000),
    );

    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, o.durationSeconds * 1000);
      timers.push(t);
    });
    // The scenario is over: wait (at most a minute) for the alerts to resolve and the receiver to put
    // everything back, as it would after a real surge. The traffic goes on meanwhile, as it does after a
    // surge: the standby's readiness, which gates the revert, is measured on its mirrored share (with no
    // traffic at all there is nothing to measure, and no revert).
    print(`  ${fmtClock(elapsed())}  scenario over; waiting for the alerts to resolve and shadowscale to revert (the traffic goes on)`);
    const settleBy = Date.now() + 60_000;
    const settled = () =>
      cluster!.proxy.state.active === PRIMARY && cluster!.autoscaler.target === PRIMARY && cluster!.autoscaler.minReplicas === w.primary.minReplicas && cluster!.pool(SHADOW).spec === (w.shadow?.minReplicas ?? 0);
    while (!settled() && Date.now() < settleBy) await new Promise((r) => setTimeout(r, 500));
    if (!settled()) {
      // Say why: the standby's readiness (what gates the revert) and the receiver's last reasons.
      const kpi = async (name: string) => n((await prom.query(`${name}{workload="${WORKLOAD}"}`).catch(() => []))[0]?.value);
      const [ready, healthy, latency, coverage, errors] = await Promise.all(
        ['shadowscale:shadow_ready:bool', 'shadowscale:shadow_healthy:bool', 'shadowscale:shadow_latency_p99:ratio_rate5m', 'shadowscale:mirror_coverage:ratio_rate5m', 'shadowscale:shadow_error_ratio:diff_rate5m'].map(kpi),
      );
      const last = [...audit].reverse().find((e) => e.event === 'decision') as { reasons?: string[] } | undefined;
      print(`  ${fmtClock(elapsed())}  not reverted after 60 s: standby ready ${ready}, healthy ${healthy} (latency p99 ratio ${latency} ≤ ${w.shadow?.readiness?.latencyRatioMax ?? '–'}, mirror coverage ${coverage}, error ratio diff ${errors}); receiver: ${last?.reasons?.join('; ') || 'no reason given'}`);
    }
    await load.stop();
    print(`  ${fmtClock(elapsed())}  load stopped`);
    stopping = true;
    for (const t of timers) clearInterval(t);

    const c = cluster;
    const final = { active: c.proxy.state.active, autoscalerTarget: c.autoscaler.target, floor: c.autoscaler.minReplicas, shadowReplicas: c.pool(SHADOW).spec };
    for (const set of [PRIMARY, SHADOW]) for (const pid of c.pool(set).startedPids) pids.add(pid);
    const st = load.stats;
    const unserved = st.errors + st.timeouts + st.dropped;
    const actions: Record<string, number> = {};
    for (const e of audit) if (e.event === 'action' && e.result === 'success') actions[(e.step as any).kind] = (actions[(e.step as any).kind] ?? 0) + 1;
    const summary: DemoSummary = {
      offered: st.offered,
      unserved,
      unservedFraction: st.offered > 0 ? unserved / st.offered : 0,
      p99Seconds: load.quantile(0.99),
      p50Seconds: load.quantile(0.5),
      replicaSeconds,
      actions,
      promotions: events.filter((e) => e.kind === 'promote').length,
      reverts: events.filter((e) => e.kind === 'revert').length,
      prescales: events.filter((e) => e.kind === 'prescale').length,
    };
    print('');
    print(`summary (${o.noShadow ? 'reactive HPA only' : 'shadowscale'}): ${st.offered} requests offered, ${unserved} unserved (${(summary.unservedFraction * 100).toFixed(2)} %: ${st.errors} errors, ${st.timeouts} timeouts, ${st.dropped} dropped)`);
    print(`  latency p50 ${(summary.p50Seconds * 1000).toFixed(0)} ms, p99 ${(summary.p99Seconds * 1000).toFixed(0)} ms (timeouts count as ${load.options.timeoutMs} ms); ${replicaSeconds} replica-seconds`);
    print(`  actions: ${Object.entries(actions).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}; pre-scales ${summary.prescales}, promotions ${summary.promotions}, reverts ${summary.reverts}`);
    print(`  forecast from ${w.load} (the recorded served load: the serving set's requests, whichever Deployment serves)`);
    if (summary.promotions > 0) print(`  ShadowscaleMirrorBroken after the promotion: ${mirrorBrokenAfterPromotion === 0 ? 'never fired (the KPIs follow the roles)' : `firing at ${mirrorBrokenAfterPromotion} checks`}`);
    let reportFile: string | undefined;
    if (o.report) reportFile = await writeReport(s, o);
    if (reportFile) print(`  report of the simulator on the same trace: ${reportFile}`);
    return { summary, events, audit, forecastsServed, alertsFirstFiring, mirrorBrokenAfterPromotion, loadQuery: w.load, surgePeakAt: surgePeak(s), degradeAt: s.degrade.at, final, pids: [...pids], ...(reportFile ? { reportFile } : {}) };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

/**
 * Tells the receiver's actions as the demo's events, from the steps' fields and the desired state
 * they serve: a floor raised on the same autoscaler, or the standby grown to the desired pool, is a
 * pre-scale; a route change is a promotion or a revert.
 */
class Narrator {
  private desired?: DesiredState;
  private target = PRIMARY;

  constructor(
    private readonly event: (kind: DemoEvent['kind'], text: string) => void,
    private floor: number,
    private pool: number,
  ) {}

  decided(desired: DesiredState): void {
    this.desired = desired;
  }

  acted(step: ActionStep): void {
    switch (step.kind) {
      case 'route':
        if (step.active === SHADOW) this.event('promote', `promotion: traffic moves to ${SHADOW}, ${PRIMARY} becomes the shadow`);
        else this.event('revert', `revert: traffic back to ${PRIMARY}`);
        return;
      case 'autoscaler': {
        const raised = step.target === this.target && step.minReplicas > this.floor;
        this.event(raised ? 'prescale' : 'scale', raised ? `pre-scale: HPA floor ${this.floor} → ${step.minReplicas}` : `receiver: ${step.why}`);
        this.floor = step.minReplicas;
        this.target = step.target;
        return;
      }
      case 'scale': {
        const standby = this.desired?.standby === step.set;
        const raised = standby && step.replicas > this.pool;
        this.event(raised ? 'prescale' : 'scale', raised ? `pre-scale: shadow pool ${step.set} ${this.pool} → ${step.replicas}` : `receiver: ${step.why}`);
        if (standby) this.pool = step.replicas;
        return;
      }
      case 'restart':
        this.event('restart', `restart of the degraded shadow ${step.set}`);
        return;
    }
  }
}

async function writeReport(s: Scenario, o: DemoOptions): Promise<string> {
  const { loadTrace, runSimulation, specFromOptions } = await import('../cli/simulate.ts');
  const { renderReport } = await import('../cli/simulate-report.ts');
  // The replayed part of the trace with the history before it, in trace time, as `shadowscale simulate` runs it.
  const full = loadTrace(o.trace);
  const end = s.traceStart + o.durationSeconds * o.speed;
  const keep = full.values.length - Math.max(0, Math.floor((full.start + full.values.length * full.stepSeconds - end) / full.stepSeconds));
  const trace = { ...full, values: full.values.slice(0, keep) };
  const spec = specFromOptions(trace, {
    trace: o.trace,
    policies: 'hpa,shadowscale',
    provisioningLag: '120s',
    capacity: 'auto',
    targetUtilization: '0.8',
    shadowResourceFraction: '0.5',
    resizeDelay: '30s',
    warmup: `${Math.round(s.traceStart - full.start)}s`,
    compress: '1',
    maxReplicas: 'auto',
  });
  const { report, results, frontier } = await runSimulation(trace, spec, ['hpa', 'shadowscale'], o.trace.split('/').pop()!);
  writeFileSync(o.report!, renderReport(report, results, frontier));
  return o.report!;
}

const n = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const fmtClock = (t: number) => `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(Math.floor(t % 60)).padStart(2, '0')}`;
