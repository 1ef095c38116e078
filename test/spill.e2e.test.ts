/**
 * Spill-over end to end: real Prometheus (the project's rules, durations compressed 30×) and
 * Alertmanager, the adapter, and the receiver with spill-over on, driving the local target (a mirroring
 * proxy in front of pools of sample-service processes). What the receiver sees is what it sees in a
 * cluster: the loads the adapter exports, the shadow's readiness from the rules, ready replicas from the
 * target.
 *
 * Capacity: a replica works two requests at once, 40 ms each (20-60), so a primary pod answers 50
 * requests/s at most; the configuration says 40 (its SLO load). Shadow pods have half the resources
 * (80 ms per request): 25 at most, 20 counted. Two primary pods, three shadow pods, no autoscaler: the
 * serving set cannot grow, as during a provisioning lag, and only the shadows can take the excess.
 *
 * 1. A surge from 25 to 120 requests/s (1.2× what the primary can answer at all): the shadow set takes
 *    live traffic before the serving set's p99 goes beyond the SLO (250 ms, measured on the answers the
 *    primary's replicas gave), and the share comes back to zero after the surge.
 * 2. The same surge again; once a share spills, the shadow degrades (a slow dependency): as soon as the
 *    rules say it is not ready, the share is withdrawn, and the serving set, alone with the surge,
 *    breaches its SLO (which shows the surge is one that needs the spill).
 * Throughout: every share given went to a shadow the rules said was ready, and no two changes of the
 * share (other than a withdrawal) came closer than the hold.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AuditEvent } from '../alertmanager/audit.ts';
import type { LocalWorkloadCluster } from '../actuators/local/cluster.ts';
import type { PrometheusClient } from '../platform/prometheus.ts';
import { parseConfig } from '../core/config.ts';
import { LoadGenerator } from '../demo/loadgen.ts';
import { startLocalStack, type LocalStack } from './harness/local-stack.ts';
import { until } from './harness/wait.ts';

const TOKEN = 'spill-e2e-token-91d2';
const BASE_RPS = 25;
const SURGE_RPS = 120;
const SLO_SECONDS = 0.25;
const HOLD_SECONDS = 2;
/** How long the receiver's view of readiness may lag the rules': two signal refreshes and a spill pass. */
const SIGNAL_AGE_SECONDS = 4;

/** The p99 of the latencies (ms) in a window of answers. */
const p99 = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))];
};

describe('spill-over with real Prometheus and the local target', () => {
  let dir: string;
  let cluster: LocalWorkloadCluster;
  let load: LoadGenerator;
  let prom: PrometheusClient;
  let stack: LocalStack;
  let rps = BASE_RPS;
  let started = 0;
  const elapsed = () => (Date.now() - started) / 1000;
  const timers: NodeJS.Timeout[] = [];
  /** The receiver's audit, each event with when it was recorded (seconds since the start). */
  const audit: Array<{ t: number; unix: number; e: AuditEvent }> = [];
  /** Every answer the serving set's replicas gave: when it ended and how long it took. */
  const primaryAnswers: Array<{ t: number; ms: number }> = [];
  /** The proxy's split, sampled every 250 ms. */
  const splits: Array<{ t: number; spill: number; shadowReady: number }> = [];

  /** Seconds since the start at which the serving set's p99 over the 3 s before first exceeded the SLO, after `from`. */
  const firstBreach = (from: number): number | undefined => {
    const answers = primaryAnswers.filter((a) => a.t >= from);
    for (let end = from + 3; end <= elapsed(); end += 0.5) {
      const window = answers.filter((a) => a.t > end - 3 && a.t <= end).map((a) => a.ms);
      if (window.length >= 20 && p99(window) > SLO_SECONDS * 1000) return end;
    }
    return undefined;
  };
  const spillAudits = () => audit.filter((a) => a.e.event === 'spill') as Array<{ t: number; unix: number; e: Extract<AuditEvent, { event: 'spill' }> }>;
  const ramp = async (from: number, to: number, seconds: number) => {
    const begin = Date.now();
    while (Date.now() - begin < seconds * 1000) {
      rps = from + ((to - from) * (Date.now() - begin)) / (seconds * 1000);
      await new Promise((r) => setTimeout(r, 200));
    }
    rps = to;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shadowscale-spill-e2e-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    const config = parseConfig(
      stringify({
        prometheus: { url: 'http://127.0.0.1:9', timeout: '5s' },
        adapter: { listen: { http: '127.0.0.1:0' }, history: '1h', step: '1s', refresh: '1s', concurrency: 1 },
        receiver: {
          listen: '127.0.0.1:0',
          tokenFile: join(dir, 'token'),
          target: 'local',
          cooldown: '3s',
          minHold: '5s',
          drain: '2s',
          maxRoleChangesPerHour: 10,
          resync: '1s',
          signalRefresh: '1s',
          stateFile: join(dir, 'state.json'),
          spill: { enabled: true, every: '1s', hold: `${HOLD_SECONDS}s` },
        },
        workloads: [
          {
            name: 'web',
            namespace: 'shop',
            capacityPerReplica: 40,
            provisioningLag: '5s',
            model: 'ets',
            slo: { latencyP99: `${SLO_SECONDS * 1000}ms`, errorRatio: 0.05 },
            primary: { name: 'web', minReplicas: 2, maxReplicas: 2 },
            shadow: { name: 'web-shadow', minReplicas: 3, maxReplicas: 3, mirrorPercent: 20, resourceFraction: 0.5, readiness: { latencyRatioMax: 5 } },
            autoscaler: { kind: 'None' },
          },
        ],
      }),
    );
    stack = await startLocalStack(config, { dir, audit: { record: (e: AuditEvent) => void audit.push({ t: elapsed(), unix: Date.now() / 1000, e }) }, local: () => ({ startupMs: 6000, workMs: 40, env: { CONCURRENCY: '2', QUEUE: '400' } }) });
    ({ cluster, prom } = stack);

    await until('both sets ready', () => cluster.pool('web').ready >= 2 && cluster.pool('web-shadow').ready >= 3, 30_000);
    started = Date.now();
    load = new LoadGenerator(() => cluster.proxy.address, () => rps, { timeoutMs: 3000, maxInFlight: 800 });
    load.onAnswer = (a) => {
      if (a.servedBy?.startsWith('web/') || a.outcome === 'timeouts') primaryAnswers.push({ t: elapsed(), ms: a.ms });
    };
    load.start();
    timers.push(setInterval(() => splits.push({ t: elapsed(), spill: cluster.proxy.state.spill ?? 0, shadowReady: cluster.pool('web-shadow').ready }), 250));
    await until('shadow ready', async () => (await prom.query('shadowscale:shadow_ready:bool{workload="web"}'))[0]?.value === 1, 60_000, 500);
  }, 120_000);

  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    await load?.stop();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let surgeStart = 0;
  let firstSpillAt = 0;

  it('a surge sends live traffic to the ready shadows before the serving set breaches its SLO, and takes it back after', async () => {
    expect(spillAudits(), 'nothing spills at the base load').toEqual([]);
    surgeStart = elapsed();
    await ramp(BASE_RPS, SURGE_RPS, 40);
    await new Promise((r) => setTimeout(r, 25_000));
    const during = splits.filter((s) => s.t >= surgeStart);
    const peakShare = Math.max(...during.map((s) => s.spill));
    firstSpillAt = during.find((s) => s.spill > 0)?.t ?? Infinity;
    const breach = firstBreach(surgeStart);
    const figures = JSON.stringify({ surgeStart, firstSpillAt, breach, peakShare, spilled: cluster.proxy.spilled, audits: spillAudits().map((a) => [a.t.toFixed(1), a.e.after, a.e.why]) });
    // The standby took live requests, about the share the excess asks for: (120 - 80) / 120 at the peak.
    expect(peakShare, figures).toBeGreaterThanOrEqual(0.2);
    expect(peakShare, figures).toBeLessThanOrEqual(0.45);
    expect(cluster.proxy.spilled, figures).toBeGreaterThan(500);
    // Before the serving set's p99 went beyond its SLO, if it did at all.
    expect(firstSpillAt, figures).toBeLessThan(breach ?? Infinity);
    // The mirror is suspended while a share spills.
    expect(cluster.proxy.state.mirrorPercent, figures).toBe(0);

    await ramp(SURGE_RPS, BASE_RPS, 10);
    const backAt = elapsed();
    await until('the share given back', () => (cluster.proxy.state.spill ?? 0) === 0, 45_000, 250);
    // The route is whole again, its mirror restored.
    expect(cluster.proxy.state, figures).toMatchObject({ active: 'web', mirror: 'web-shadow', mirrorPercent: 20 });
    expect(elapsed() - backAt, figures).toBeLessThan(45);
    console.log(`spill e2e, surge 1: first share ${(firstSpillAt - surgeStart).toFixed(1)} s into the ramp, peak share ${peakShare}, ${cluster.proxy.spilled} requests spilled, serving set's first 3-s p99 beyond ${SLO_SECONDS * 1000} ms: ${breach === undefined ? 'never' : `${(breach - surgeStart).toFixed(1)} s`}; given back ${(elapsed() - backAt).toFixed(1)} s after the load fell`);
  }, 150_000);

  it('withdraws the share at once when the shadow is no longer ready, and then the serving set alone breaches its SLO', async () => {
    await ramp(BASE_RPS, SURGE_RPS, 20);
    await until('a share spills again', () => (cluster.proxy.state.spill ?? 0) >= 0.2, 45_000, 250);
    const spilling = elapsed();
    // A slow dependency on every shadow replica: each request waits a second, as many at once as come.
    for (const port of cluster.pool('web-shadow').ports()) await fetch(`http://127.0.0.1:${port}/control?workMs=1000&concurrency=0`);
    const unreadyAt = Number(await until(
      'the rules say the shadow is not ready',
      async () => ((await prom.query('shadowscale:shadow_ready:bool{workload="web"}'))[0]?.value === 0 ? elapsed() : undefined),
      45_000,
      250,
    ));
    await until('the share withdrawn', () => (cluster.proxy.state.spill ?? 0) === 0, 15_000, 100);
    const withdrawnAt = elapsed();
    // The withdrawal of the share the surge was given (not a share given back during the ramp).
    const withdrawal = spillAudits().find((a) => a.t >= spilling && a.e.after === 0);
    expect(withdrawal?.e.why, JSON.stringify(withdrawal)).toMatch(/outside its SLO|no ready replica/);
    // At once: within the receiver's view of the rules (two signal refreshes and a pass).
    expect(withdrawnAt - unreadyAt).toBeLessThan(SIGNAL_AGE_SECONDS + 1);
    // Alone with the surge, the serving set breaches its SLO: the surge was one that needed the spill.
    await new Promise((r) => setTimeout(r, 10_000));
    const breach = firstBreach(withdrawnAt);
    expect(breach, JSON.stringify({ unreadyAt, withdrawnAt })).toBeDefined();
    console.log(`spill e2e, surge 2: withdrawn ${(withdrawnAt - unreadyAt).toFixed(1)} s after the rules said "not ready"; the serving set alone breached its SLO ${(breach! - withdrawnAt).toFixed(1)} s later`);
    rps = BASE_RPS;
  }, 150_000);

  it('gave shares only to a shadow the rules said was ready, and changed them no faster than the hold', async () => {
    const audits = spillAudits();
    const figures = JSON.stringify(audits.map((a) => [a.t.toFixed(2), a.e.before, a.e.after, a.e.why]));
    expect(audits.length, figures).toBeGreaterThanOrEqual(4);
    for (const a of audits.filter((x) => x.e.after > x.e.before)) {
      // What the rules said over the time the receiver's view could be from.
      const r = await prom.query(`max_over_time(shadowscale:shadow_ready:bool{workload="web"}[${SIGNAL_AGE_SECONDS}s])`, a.unix);
      expect(r[0]?.value, `share raised to ${a.e.after} at ${a.t.toFixed(1)} s: ${figures}`).toBe(1);
    }
    // The hold: the decision stamps the change when it is made, the audit records it a moment later.
    const changes = audits.filter((a) => !/outside its SLO|no ready replica/.test(a.e.why));
    for (let i = 1; i < changes.length; i++) expect(changes[i].t - changes[i - 1].t, figures).toBeGreaterThanOrEqual(HOLD_SECONDS - 0.25);
    // The route split only while the shadow set had ready replicas.
    expect(splits.length).toBeGreaterThan(100);
    const unready = splits.filter((x) => x.spill > 0 && x.shadowReady === 0);
    expect(unready, JSON.stringify(unready)).toEqual([]);
  });
});
