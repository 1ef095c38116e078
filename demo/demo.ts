/**
 * `shadowscale demo`: the whole loop on one machine, with real parts. A real trace is replayed in
 * compressed time against a sample service (pools of primary and shadow processes behind a
 * mirroring proxy, a capacity limit per process), with its history backfilled into a real
 * Prometheus running the project's rules (durations compressed alike) and a real Alertmanager with
 * the example configuration. The adapter forecasts the load; a local HPA (the Kubernetes algorithm)
 * scales the serving pool on the predicted load (or, `--no-shadow`, on the observed load); the
 * receiver pre-scales shadows, spills a share of live traffic to them while the serving set is short of
 * the plan, promotes a ready shadow when the primary degrades, and reverts.
 * Everything listens on loopback and is stopped, by PID, at the end or on Ctrl-C.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

import type { AuditEvent } from '../alertmanager/audit.ts';
import { parseConfig, type Config } from '../core/config.ts';
import { HpaController } from '../core/hpa.ts';
import { parseSeriesCsv } from '../core/series/csv.ts';
import { traceFromSeries } from '../core/simulator/trace.ts';
import { parseQuantity } from '../platform/quantity.ts';
import { DEFAULT_TRACE, DEFAULTS } from './defaults.ts';
import { LoadGenerator } from './loadgen.ts';
import { AlertWatch, EventLog, fmtClock, liveLine, Narrator, summaryLines, whyNotReverted, type DemoEvent, type DemoSummary } from './narration.ts';
import { rpsAt, scenario, surgePeak, traceTimeAt, type Scenario } from './scenario.ts';
import { DemoStack, NS, PRIMARY, requireBinaries, SHADOW, WORKLOAD } from './stack.ts';
import { Chaos, type ChaosReport } from './chaos.ts';

export { DEFAULT_TRACE };
export type { DemoEvent, DemoSummary };

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
  /** Fail the parts one after another while it runs (demo/chaos.ts), and report how the loop recovered. */
  chaos: boolean;
  /** Print the live view (the test turns it off). */
  print: (line: string) => void;
}

export const DEFAULT_OPTIONS: DemoOptions = {
  ...DEFAULTS,
  trace: DEFAULT_TRACE,
  noShadow: false,
  chaos: false,
  ports: { prometheus: 0, alertmanager: 0, proxy: 0 },
  print: (line) => process.stdout.write(`${line}\n`),
};

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
  /** With `chaos`: each fault, how the loop converged after it, and what held throughout. */
  chaos?: ChaosReport;
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
        signalRefresh: '2s',
        // Spill-over: while the serving set is short of the plan (its new replicas starting), a share
        // of live traffic goes to the ready shadows; decided every second, changed at most every 3 s.
        spill: { enabled: !o.noShadow, every: '1s', hold: '3s' },
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

/**
 * The demo: the scenario (demo/scenario.ts) replayed through the processes (demo/stack.ts), with the
 * local HPA on the serving pool, the load generator, the injected surge and degradation, and the
 * narration (demo/narration.ts); then the settling after the scenario and the summary.
 */
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
  const config = demoConfig(s, o, dir);
  const w = config.workloads[0];
  const print = o.print;

  let started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  const log = new EventLog(elapsed, print);
  const narrator = new Narrator(log, w.primary.minReplicas, w.shadow?.minReplicas ?? 0);
  const audit: AuditEvent[] = [];
  let chaos: Chaos | undefined;
  const stack = new DemoStack({
    scenario: s,
    config,
    dir,
    speed: o.speed,
    ports: o.ports,
    audit: {
      record: (e) => {
        audit.push(e);
        narrator.record(e);
        chaos?.audit(e);
      },
    },
    local: {
      listen: `127.0.0.1:${o.ports.proxy}`,
      startupMs: o.startupSeconds * 1000,
      workMs: 40,
      env: { CONCURRENCY: String(Math.max(1, Math.round((o.capacityRps * 40) / 1000))), QUEUE: String(Math.round(o.capacityRps * 2)) },
      initialReplicas: { primary: Math.max(2, Math.ceil(rpsAt(s, 0) / o.capacityRps)), shadow: o.noShadow ? 0 : 1 },
    },
  });
  let load: LoadGenerator | undefined;
  const timers: NodeJS.Timeout[] = [];
  let stopping = false;
  const cleanup = async () => {
    stopping = true;
    await chaos?.stop();
    for (const t of timers) clearInterval(t);
    await load?.stop();
    await stack.stop();
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
    await stack.start();
    const cluster = stack.cluster!;
    const adapter = stack.adapter!;
    const prom = stack.prom!;
    const proxy = cluster.proxy.address;
    print(`  Prometheus ${stack.prometheus!.url}  Alertmanager ${stack.alertmanager!.url}  adapter ${adapter.httpUrl}  receiver ${stack.receiver!.url}  service http://${proxy}/`);

    // The HPA, locally: the Kubernetes algorithm, every second, on the serving pool.
    const hpa = new HpaController({ minReplicas: 1, maxReplicas: w.primary.maxReplicas, targetAverageValue: o.noShadow ? o.capacityRps * 0.8 : o.capacityRps, scaleDownStabilizationSeconds: 30, periodSeconds: 1 });
    let forecastsServed = 0;
    const hpaTick = async () => {
      let usage: number | undefined;
      if (o.noShadow) {
        const r = await prom.query(w.load).catch(() => []);
        usage = r[0]?.value;
      } else {
        const res = await fetch(`${adapter.httpUrl}/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/shadowscale_predicted_load?labelSelector=workload%3D${WORKLOAD}`).catch(() => undefined);
        if (res?.ok) {
          const body = (await res.json()) as { items: Array<{ value: string }> };
          if (body.items.length > 0) {
            usage = body.items.reduce((sum, i) => sum + parseQuantity(i.value), 0);
            forecastsServed++;
          }
        }
      }
      if (usage === undefined || !Number.isFinite(usage) || stopping) return;
      const target = cluster.autoscaler.target;
      const pool = cluster.pool(target);
      const proposed = hpa.sync(elapsed(), usage, Math.max(1, pool.spec), Math.max(1, pool.spec));
      const desired = Math.max(cluster.autoscaler.minReplicas, proposed);
      if (desired !== pool.spec) pool.scale(desired);
    };
    timers.push(setInterval(() => void hpaTick(), 1000));

    // Replica-seconds (shadows at their resource fraction, which is 1 here: full-size processes), and
    // the seconds with a share of live traffic spilled to the shadows.
    let replicaSeconds = 0;
    let spillSeconds = 0;
    timers.push(
      setInterval(() => {
        // Counted from the first request on.
        if (!load) return;
        replicaSeconds += cluster.pool(PRIMARY).spec + cluster.pool(SHADOW).spec;
        if ((cluster.proxy.state.spill ?? 0) > 0) spillSeconds++;
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
    load.onOffered = stack.countOffered;
    load.start();
    if (o.chaos) {
      const generator = load;
      chaos = new Chaos({
        stack,
        workload: w,
        durationSeconds: o.durationSeconds,
        degrade: { at: s.degrade.at, seconds: s.degrade.seconds },
        elapsed,
        traffic: () => ({ offered: generator.stats.offered, unserved: generator.stats.errors + generator.stats.timeouts + generator.stats.dropped }),
        print: (line) => !stopping && print(line),
      });
      chaos.start();
    }

    // The scenario's events: the surge (already in the offered load) and the degradation of the serving set.
    let surged = false;
    let degraded = false;
    timers.push(
      setInterval(() => {
        const t = elapsed();
        if (!surged && t >= s.surge.at && o.surge > 1) {
          surged = true;
          log.add('surge', `surge: load ×${o.surge} over ${s.surge.rampSeconds} s`);
        }
        if (!degraded && t >= s.degrade.at) {
          degraded = true;
          const serving = cluster.proxy.state.active;
          const ports = cluster.pool(serving).ports();
          log.add('degrade', `the serving set ${serving} degrades for ${s.degrade.seconds} s (${ports.length} replicas 10× slower)`);
          for (const p of ports) void fetch(`http://127.0.0.1:${p}/control?workMs=400&forMs=${s.degrade.seconds * 1000}`).catch(() => undefined);
        }
      }, 250),
    );
    // The live view, and the alerts as they change.
    timers.push(
      setInterval(() => {
        const st = load!.stats;
        void liveLine(stack, { clock: elapsed(), traceTime: traceTimeAt(s, elapsed()), offeredRps: rpsAt(s, elapsed()), unserved: st.errors + st.timeouts + st.dropped }).then((line) => !stopping && print(line));
      }, 5000),
    );
    const alerts = new AlertWatch(prom, log, elapsed);
    timers.push(setInterval(() => void alerts.check(() => stopping), 1000));

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
      cluster.proxy.state.active === PRIMARY && cluster.autoscaler.target === PRIMARY && cluster.autoscaler.minReplicas === w.primary.minReplicas && cluster.pool(SHADOW).spec === (w.shadow?.minReplicas ?? 0);
    // Under chaos, the last fault converges first (it may still be under way when the scenario ends).
    while ((!settled() || (chaos && !chaos.finished())) && Date.now() < settleBy) await new Promise((r) => setTimeout(r, 500));
    const chaosReport = await chaos?.stop();
    if (!settled()) print(`  ${fmtClock(elapsed())}  not reverted after 60 s: ${await whyNotReverted(prom, audit, w.shadow?.readiness?.latencyRatioMax)}`);
    await load.stop();
    print(`  ${fmtClock(elapsed())}  load stopped`);
    stopping = true;
    for (const t of timers) clearInterval(t);

    const final = { active: cluster.proxy.state.active, autoscalerTarget: cluster.autoscaler.target, floor: cluster.autoscaler.minReplicas, shadowReplicas: cluster.pool(SHADOW).spec };
    stack.collectPoolPids();
    const st = load.stats;
    const unserved = st.errors + st.timeouts + st.dropped;
    const spills = audit.filter((e): e is Extract<AuditEvent, { event: 'spill' }> => e.event === 'spill');
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
      promotions: log.count('promote'),
      reverts: log.count('revert'),
      prescales: log.count('prescale'),
      spill: { changes: spills.length, maxShare: Math.max(0, ...spills.map((e) => e.after)), requests: cluster.proxy.spilled, seconds: spillSeconds },
    };
    for (const line of summaryLines(summary, { noShadow: o.noShadow, errors: st.errors, timeouts: st.timeouts, dropped: st.dropped, timeoutMs: load.options.timeoutMs, loadQuery: w.load, mirrorBrokenAfterPromotion: alerts.mirrorBrokenAfterPromotion })) print(line);
    if (chaosReport) for (const line of Chaos.lines(chaosReport)) print(line);
    let reportFile: string | undefined;
    if (o.report) reportFile = await writeReport(s, o);
    if (reportFile) print(`  report of the simulator on the same trace: ${reportFile}`);
    return {
      summary,
      events: log.events,
      audit,
      forecastsServed,
      alertsFirstFiring: alerts.firstFiring,
      mirrorBrokenAfterPromotion: alerts.mirrorBrokenAfterPromotion,
      loadQuery: w.load,
      surgePeakAt: surgePeak(s),
      degradeAt: s.degrade.at,
      final,
      pids: [...stack.pids],
      ...(reportFile ? { reportFile } : {}),
      ...(chaosReport ? { chaos: chaosReport } : {}),
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

async function writeReport(s: Scenario, o: DemoOptions): Promise<string> {
  const [{ runSimulation, simulationSpec }, { renderReport }] = await Promise.all([import('../simulation/run.ts'), import('../simulation/report.ts')]);
  // The replayed part of the trace with the history before it, in trace time, as `shadowscale simulate` runs it.
  const full = traceFromSeries(parseSeriesCsv(readFileSync(o.trace, 'utf8'), o.trace));
  const end = s.traceStart + o.durationSeconds * o.speed;
  const keep = full.values.length - Math.max(0, Math.floor((full.start + full.values.length * full.stepSeconds - end) / full.stepSeconds));
  const trace = { ...full, values: full.values.slice(0, keep) };
  const spec = simulationSpec(trace, {
    provisioningLagSeconds: 120,
    capacity: 'auto',
    targetUtilization: 0.8,
    shadowResourceFraction: 0.5,
    warmupSeconds: Math.round(s.traceStart - full.start),
    maxReplicas: 'auto',
  });
  const { report, results, frontier } = await runSimulation(trace, spec, ['hpa', 'shadowscale'], o.trace.split('/').pop()!);
  writeFileSync(o.report!, renderReport(report, results, frontier));
  return o.report!;
}
