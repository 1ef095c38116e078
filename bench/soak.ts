/**
 * `npm run bench:soak`: a bounded soak of both services, each run as its own process
 * (`shadowscale adapter`, `shadowscale receiver`), against a real Prometheus holding a week of real
 * traffic and the in-test Kubernetes API server (test/harness/kube-api.ts):
 *   - the adapter serves the external metrics API at a fixed --rate (500 req/s) for the whole run,
 *     while it refits its workloads every minute;
 *   - the receiver takes a steady stream of --webhooks per second (20), in turn a valid firing alert,
 *     the same webhook again (a duplicate), its resolution, an alert without its workload label (a
 *     valid payload it cannot place: 2xx, acted on by nobody) and a malformed one (bad JSON, a payload
 *     of another version), for workloads the stream cycles through;
 *   - every 15 s both processes' resident memory (/proc) and their own event-loop lag p99 and heap
 *     (the prom-client process metrics of their /metrics) are sampled.
 * It reports the figures after a minute of warm-up and at the end, their growth, the answers the
 * webhooks got (a malformed one must get 4xx, any other 2xx; anything else is counted as unexpected) and the adapter's non-2xx. A benchmark: it prints what it measured and writes
 * bench/results/soak.{json,txt}; it asserts nothing.
 *
 * Options: --minutes M (10), --rate R (500), --webhooks W (20), --workloads N (20).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

import { FakeKubeApi } from '../test/harness/kube-api.ts';
import { loadFixture, NASA_TWO_WEEKS } from '../test/harness/fixtures.ts';
import { shiftToNow } from '../platform/runtime/openmetrics.ts';
import { freePort } from '../platform/runtime/ports.ts';
import { startProcess, waitForHttp, type ManagedProcess } from '../platform/runtime/process.ts';
import { startPrometheus } from '../platform/runtime/prometheus.ts';
import { openLoop } from './open-loop.ts';
import { arg } from './args.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MINUTES = Number(arg('--minutes', '10'));
const RATE = Number(arg('--rate', '500'));
const WEBHOOKS_PER_SECOND = Number(arg('--webhooks', '20'));
const WORKLOADS = Number(arg('--workloads', '20'));
const WARMUP_SECONDS = 60;
const SAMPLE_SECONDS = 15;
const NS = 'soak';
const TOKEN = 'soak-token';

interface Sample {
  t: number;
  rssMb: number;
  heapUsedMb?: number;
  eventLoopLagP99Ms?: number;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** One gauge of a Prometheus text exposition, by name. */
function gauge(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

async function sample(proc: ManagedProcess, metricsUrl: string, prefix: string, t: number): Promise<Sample> {
  const text = await fetch(metricsUrl).then((r) => r.text()).catch(() => '');
  const heap = gauge(text, `${prefix}nodejs_heap_size_used_bytes`);
  const lag = gauge(text, `${prefix}nodejs_eventloop_lag_p99_seconds`);
  return { t, rssMb: rssMb(proc.pid), ...(heap !== undefined ? { heapUsedMb: heap / 2 ** 20 } : {}), ...(lag !== undefined ? { eventLoopLagP99Ms: lag * 1000 } : {}) };
}

/** The webhooks of the stream, in turn: valid, duplicate, resolved, malformed (two kinds), unplaceable. */
function webhook(i: number): { body: string; kind: 'valid' | 'duplicate' | 'resolved' | 'malformed' | 'unplaceable' } {
  const round = Math.floor(i / 6);
  const workload = `w-${round % WORKLOADS}`;
  const startsAt = new Date(Date.UTC(2026, 0, 1) + round * 1000).toISOString();
  const alert = (status: string) => ({
    version: '4',
    groupKey: `{}:{namespace="${NS}", workload="${workload}"}`,
    status,
    receiver: 'shadowscale',
    alerts: [{ status, labels: { alertname: 'ShadowscaleLoadAnomaly', namespace: NS, workload, shadowscale_action: 'prescale' }, annotations: {}, startsAt, ...(status === 'resolved' ? { endsAt: new Date(Date.parse(startsAt) + 500).toISOString() } : {}), fingerprint: `fp-${workload}-${round}` }],
  });
  switch (i % 6) {
    case 0:
      return { body: JSON.stringify(alert('firing')), kind: 'valid' };
    case 1:
      return { body: JSON.stringify(alert('firing')), kind: 'duplicate' };
    case 2:
      return { body: JSON.stringify(alert('resolved')), kind: 'resolved' };
    case 3:
      return { body: '{"version": "4", "alerts": [', kind: 'malformed' };
    case 4:
      return { body: JSON.stringify({ ...alert('firing'), version: '3' }), kind: 'malformed' };
    default: {
      const a = alert('firing');
      delete (a.alerts[0].labels as Record<string, string>).workload;
      return { body: JSON.stringify(a), kind: 'unplaceable' };
    }
  }
}

const round1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? undefined : Math.round(x * 10) / 10);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowscale-bench-soak-'));
  const trace = loadFixture(NASA_TWO_WEEKS);
  const prometheusPorts = { adapter: await freePort(), receiver: await freePort() };
  const prometheus = await startPrometheus({
    history: [{ name: 'http_requests_per_minute', labels: { workload: 'nasa' }, timestamps: shiftToNow(trace.timestamps, 60), values: trace.values }],
    scrapeTargets: [
      { job: 'adapter', target: `127.0.0.1:${prometheusPorts.adapter}` },
      { job: 'receiver', target: `127.0.0.1:${prometheusPorts.receiver}` },
    ],
    scrapeInterval: '5s',
  });
  const api = new FakeKubeApi();
  await api.start();
  const names = Array.from({ length: WORKLOADS }, (_, i) => `w-${i}`);
  for (const name of names) {
    api.deployment(NS, name, 4);
    api.deployment(NS, `${name}-shadow`, 1);
    api.hpa(NS, name, name, 2, 40);
  }
  writeFileSync(join(dir, 'kubeconfig'), stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 's', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }], users: [{ name: 's', user: { token: 'x' } }], contexts: [{ name: 's', context: { cluster: 's', user: 's' } }], 'current-context': 's' }));
  writeFileSync(join(dir, 'token'), TOKEN);
  writeFileSync(
    join(dir, 'config.yaml'),
    stringify({
      prometheus: { url: prometheus.url, timeout: '10s' },
      adapter: { listen: { http: `127.0.0.1:${prometheusPorts.adapter}` }, history: '7d', step: '5m', refresh: '1m', concurrency: 2 },
      receiver: { listen: `127.0.0.1:${prometheusPorts.receiver}`, tokenFile: join(dir, 'token'), resync: '15s', cooldown: '30s', auditFile: join(dir, 'audit.jsonl') },
      workloads: names.map((name, i) => ({
        name,
        namespace: NS,
        load: `http_requests_per_minute{workload="nasa"} * ${(1 + i / WORKLOADS).toFixed(3)} / 60`,
        capacityPerReplica: 0.5,
        provisioningLag: '2m',
        model: 'mstl',
        primary: { name, minReplicas: 2, maxReplicas: 200 },
        shadow: { name: `${name}-shadow`, minReplicas: 1, maxReplicas: 20 },
      })),
    }),
  );
  const bin = join(ROOT, 'bin', 'shadowscale.mjs');
  const adapter = startProcess(process.execPath, [bin, 'adapter', '--config', join(dir, 'config.yaml')], { logFile: join(dir, 'adapter.log') });
  const receiver = startProcess(process.execPath, [bin, 'receiver', '--config', join(dir, 'config.yaml')], { logFile: join(dir, 'receiver.log'), env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig') } });
  const adapterUrl = `http://127.0.0.1:${prometheusPorts.adapter}`;
  const receiverUrl = `http://127.0.0.1:${prometheusPorts.receiver}`;
  try {
    await waitForHttp(`${adapterUrl}/readyz`, adapter, 300_000);
    await waitForHttp(`${receiverUrl}/readyz`, receiver, 60_000);
    process.stderr.write(`soak: ${MINUTES} min, adapter at ${RATE} req/s, receiver at ${WEBHOOKS_PER_SECOND} webhooks/s, ${WORKLOADS} workloads\n`);

    const started = Date.now();
    const end = started + MINUTES * 60_000;
    const samples = { adapter: [] as Sample[], receiver: [] as Sample[] };
    const takeSamples = async () => {
      const t = (Date.now() - started) / 1000;
      samples.adapter.push(await sample(adapter, `${adapterUrl}/metrics`, 'shadowscale_adapter_', t));
      samples.receiver.push(await sample(receiver, `${receiverUrl}/metrics`, 'shadowscale_receiver_process_', t));
    };
    await takeSamples();
    const sampler = setInterval(() => void takeSamples(), SAMPLE_SECONDS * 1000);

    // The webhook stream, paced; each answer checked against what its kind must get.
    const answers: Record<string, Record<string, number>> = {};
    const webhookLatencies: number[] = [];
    let unexpected = 0;
    let sent = 0;
    const stream = (async () => {
      const interval = 1000 / WEBHOOKS_PER_SECOND;
      while (Date.now() < end) {
        const { body, kind } = webhook(sent++);
        const t0 = performance.now();
        const status = await fetch(`${receiverUrl}/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body })
          .then(async (r) => (await r.arrayBuffer(), r.status))
          .catch(() => 0);
        webhookLatencies.push(performance.now() - t0);
        answers[kind] ??= {};
        answers[kind][status] = (answers[kind][status] ?? 0) + 1;
        const ok = kind === 'malformed' ? status >= 400 && status < 500 : status >= 200 && status < 300;
        if (!ok) unexpected++;
        const next = started + sent * interval;
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
    })();

    const path = () => `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/shadowscale_predicted_load?labelSelector=workload%3Dw-${Math.floor(Math.random() * WORKLOADS)}`;
    // At a fixed rate, open loop (bench/open-loop.ts): each request due at its time, latency from then.
    const load = await openLoop({ origin: adapterUrl, path, rate: RATE, durationSeconds: MINUTES * 60 });
    await stream;
    clearInterval(sampler);
    await takeSamples();

    const at = (xs: Sample[], t: number) => xs.find((s) => s.t >= t) ?? xs.at(-1)!;
    const third = (MINUTES * 60 - WARMUP_SECONDS) / 3;
    const trough = (xs: Sample[], key: 'rssMb' | 'heapUsedMb', i: number) =>
      Math.min(...xs.filter((s) => s.t >= WARMUP_SECONDS + i * third && s.t <= WARMUP_SECONDS + (i + 1) * third).map((s) => s[key] ?? NaN));
    const figures = (xs: Sample[]) => {
      const start = at(xs, WARMUP_SECONDS);
      const last = xs.at(-1)!;
      return {
        start: { t: Math.round(start.t), rssMb: round1(start.rssMb), heapUsedMb: round1(start.heapUsedMb), eventLoopLagP99Ms: round1(start.eventLoopLagP99Ms) },
        end: { t: Math.round(last.t), rssMb: round1(last.rssMb), heapUsedMb: round1(last.heapUsedMb), eventLoopLagP99Ms: round1(last.eventLoopLagP99Ms) },
        maxRssMb: round1(Math.max(...xs.map((s) => s.rssMb))),
        // Memory saws up and down with garbage collection: growth is told by the troughs, the lowest
        // sample of the first and of the last third after the warm-up.
        rssTroughFirstThirdMb: round1(trough(xs, 'rssMb', 0)),
        rssTroughLastThirdMb: round1(trough(xs, 'rssMb', 2)),
        heapTroughFirstThirdMb: round1(trough(xs, 'heapUsedMb', 0)),
        heapTroughLastThirdMb: round1(trough(xs, 'heapUsedMb', 2)),
        maxEventLoopLagP99Ms: round1(Math.max(...xs.map((s) => s.eventLoopLagP99Ms ?? 0))),
        rssGrowthMb: round1(last.rssMb - start.rssMb),
        heapGrowthMb: round1((last.heapUsedMb ?? NaN) - (start.heapUsedMb ?? NaN)),
      };
    };
    const sorted = [...webhookLatencies].sort((a, b) => a - b);
    const q = (p: number) => round1(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
    const result = {
      date: new Date().toISOString(),
      machine: `${process.platform} ${process.arch}, node ${process.version}`,
      minutes: MINUTES,
      adapter: { ...figures(samples.adapter), requests: load.requests, requestsPerSecond: round1(load.throughputPerSecond), latencyMs: { p50: load.latencyMs.p50, p99: load.latencyMs.p99, max: load.latencyMs.max }, non2xx: load.non2xx, errors: load.errors },
      receiver: { ...figures(samples.receiver), webhooks: sent, answers, unexpected, answerMs: { p50: q(0.5), p99: q(0.99), max: round1(sorted.at(-1)) } },
      samples,
    };
    const line = (name: string, f: ReturnType<typeof figures>) =>
      `${name.padEnd(9)} RSS ${f.start.rssMb} → ${f.end.rssMb} MB (max ${f.maxRssMb}; lowest in the first and last third ${f.rssTroughFirstThirdMb} → ${f.rssTroughLastThirdMb}), heap ${f.start.heapUsedMb} → ${f.end.heapUsedMb} MB (lowest ${f.heapTroughFirstThirdMb} → ${f.heapTroughLastThirdMb}), event-loop lag p99 ${f.start.eventLoopLagP99Ms} → ${f.end.eventLoopLagP99Ms} ms (max ${f.maxEventLoopLagP99Ms})`;
    const text = [
      `soak: ${MINUTES} min, ${new Date().toISOString()}, ${result.machine}; figures after ${WARMUP_SECONDS} s of warm-up and at the end`,
      line('adapter', result.adapter),
      `          ${result.adapter.requests} external-metrics requests at ${result.adapter.requestsPerSecond} req/s: p50 ${result.adapter.latencyMs.p50} ms, p99 ${result.adapter.latencyMs.p99} ms, max ${result.adapter.latencyMs.max} ms; non-2xx ${result.adapter.non2xx}, errors ${result.adapter.errors}`,
      line('receiver', result.receiver),
      `          ${sent} webhooks: ${Object.entries(answers).map(([k, v]) => `${k} ${Object.entries(v).map(([s, c]) => `${s}×${c}`).join(' ')}`).join('; ')}; unexpected answers ${unexpected}; answered p50 ${result.receiver.answerMs.p50} ms, p99 ${result.receiver.answerMs.p99} ms`,
    ].join('\n');
    console.log(text);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(ROOT, 'bench', 'results', 'soak.txt'), `${text}\n`);
  } finally {
    await Promise.all([adapter.stop(), receiver.stop()]);
    await prometheus.stop();
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
