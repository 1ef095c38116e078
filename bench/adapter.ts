/**
 * `npm run bench:adapter`: the adapter with 1,000 configured workloads against a real Prometheus,
 * run as its own process (`shadowscale adapter`), measured from outside:
 *   - the time to compute the first forecasts of all workloads (start to /readyz), and again after a
 *     restart, when the adapter reads its backtest scores back from Prometheus (which scrapes it),
 *   - p50/p99 latency and throughput of the external-metrics endpoint (HTTPS, a random workload's
 *     selector per request) at a fixed 1,000 req/s (an open-loop generator: bench/open-loop.ts) and at
 *     full speed (autocannon), right after the first forecasts while the first backtests run on both cores,
 *   - the steady state once every workload is scored: the adapter's CPU over a few refresh intervals,
 *     whether it kept every workload refreshed, and the latency at 1,000 req/s with the adapter on one
 *     CPU and the load generator and Prometheus on the other (taskset), with the CPU time each of the
 *     adapter's threads took meanwhile, how long its serving thread waited for that CPU (in all, and
 *     its longest single waits) and how much of each CPU the hypervisor took (steal),
 *   - and first, the floor of those latencies here: a server that only answers a fixed body, measured
 *     the same way (pinned, 1,000 req/s), before the adapter starts.
 * In the pinned runs (the floor's and the steady state's) the generator has a CPU of its own and polls
 * its event loop for the last 2 ms before each request's due time (open-loop's spinMs) instead of
 * sleeping on a ~1 ms timer that would send it up to a millisecond late, which would count in every
 * latency; unpinned, it sleeps on timers and leaves the CPU to the adapter's fits.
 * A benchmark: it prints what it measured and writes bench/results/adapter.json; it asserts nothing.
 *
 * Options: --workloads N (1000), --duration S (10), --history 7d, --step 5m, --model mstl, --refresh 1m
 * (a refresh longer than the run measures serving alone, without fits competing for the two cores),
 * --plain (plain HTTP instead of HTTPS), --no-restart (Prometheus does not scrape the adapter, no steady
 * state, no restart), --steady-refreshes N (3, or as many as make one --step, whichever is more: refresh
intervals the steady state is measured over; a refresh fits only when a new step has arrived),
 * --pinned-runs N (3: the pinned steady-state measurement is repeated, a run's p99 varies with what the
 * fit threads and the collector do in its seconds), --adapter-flags "..." (Node flags for the adapter
 * process, e.g. GC tracing or a CPU profile; its standard output then goes to adapter-stdout.log in the
 * bench's temporary directory, whose path is printed), --node PATH (the Node.js binary that runs the
 * adapter; this bench's by default, and the image's is 24: `npx -p node@24 node -p process.execPath`
 * gives one), --compare-v8-workers (the pinned runs alternate V8's background threads
 * at SCHED_OTHER, as Node leaves them, and at SCHED_IDLE, as the adapter sets them on a Node that
 * names them; run as root, as only root may take a thread back from SCHED_IDLE), --compare-prometheus
 * (instead, the pinned runs alternate Prometheus on the generator's CPU, as by default, and on the
 * adapter's CPU at SCHED_IDLE, the generator then alone on its CPU: on two cores Prometheus has to
 * share one, and on the generator's it delays sends and the reading of answers; root too).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

import { openLoop, type OpenLoopFigures } from './open-loop.ts';

import { loadFixture, NASA_TWO_WEEKS } from '../test/harness/fixtures.ts';
import { CLOCK_TICKS, procStat, SCHED_IDLE } from '../test/harness/threads.ts';
import { shiftToNow } from '../platform/runtime/openmetrics.ts';
import { freePort } from '../platform/runtime/ports.ts';
import { startPrometheus } from '../platform/runtime/prometheus.ts';
import { PrometheusClient } from '../platform/prometheus.ts';
import { parseDuration } from '../core/duration.ts';
import { arg } from './args.ts';
import { builtShadowscale, serviceNode } from './built.ts';
import { FIT_NICE_INCREMENT } from '../adapter/fit-pool.ts';
import { threadsNamed, V8_WORKER_THREAD_NAME } from '../platform/thread-priority.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORKLOADS = Number(arg('--workloads', '1000'));
const DURATION = Number(arg('--duration', '10'));
const HISTORY = arg('--history', '7d');
const STEP = arg('--step', '5m');
const MODEL = arg('--model', 'mstl');
const REFRESH = arg('--refresh', '1m');
/** Measure over plain HTTP instead of HTTPS, to see what TLS costs. */
const PLAIN = process.argv.includes('--plain');
const RESTART = !process.argv.includes('--no-restart');
/** Refresh intervals the steady state is measured over. */
const STEADY_REFRESHES_MIN = Number(arg('--steady-refreshes', '3'));
/** Times the pinned steady-state latency is measured. */
const PINNED_RUNS = Number(arg('--pinned-runs', '3'));
/** Node flags for the adapter process. */
const ADAPTER_FLAGS = arg('--adapter-flags', '').split(' ').filter((f) => f !== '');
/** The Node that runs the adapter (the image's is 24; this one may be older). */
const ADAPTER_NODE = serviceNode();
/** How long before a request's due time a pinned generator polls instead of sleeping (bench/open-loop.ts). */
const PINNED_SPIN_MS = 2;

/** Pinned runs alternate V8's workers at SCHED_IDLE (as the adapter sets them) and at SCHED_OTHER. */
const COMPARE_V8_WORKERS = process.argv.includes('--compare-v8-workers');
if (COMPARE_V8_WORKERS && process.getuid?.() !== 0) throw new Error('--compare-v8-workers: run as root (only root may take a thread back from SCHED_IDLE)');
const COMPARE_PROMETHEUS = process.argv.includes('--compare-prometheus');
if (COMPARE_PROMETHEUS && process.getuid?.() !== 0) throw new Error('--compare-prometheus: run as root (only root may take a thread back from SCHED_IDLE)');
if (COMPARE_PROMETHEUS && COMPARE_V8_WORKERS) throw new Error('--compare-prometheus and --compare-v8-workers both alternate the pinned runs: choose one');

async function waitFor(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

/** CPU seconds (user + system, all threads) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = procStat(`/proc/${pid}/stat`);
  if (!stat) throw new Error(`process ${pid} is gone`);
  return stat.cpuSeconds;
}
/**
 * CPU seconds per thread of a process (/proc/<pid>/task/<tid>/stat), sorted into its main thread,
 * threads at a positive nice value (the adapter's fit workers) and the rest (V8's and libuv's helpers);
 * and how many fit threads there are, and how many of them at SCHED_IDLE.
 */
type ThreadKind = 'main' | 'niced' | 'v8Workers' | 'other';

/**
 * Each thread of the adapter now: its kind and CPU time, by thread id; and how many of its fit threads
 * and V8 workers are at SCHED_IDLE.
 */
function threadCpuSeconds(pid: number): { byTid: Map<string, { kind: ThreadKind; cpuSeconds: number }>; fitThreads: number; fitThreadsIdle: number; v8WorkersIdle: string } {
  const byTid = new Map<string, { kind: ThreadKind; cpuSeconds: number }>();
  const v8Workers = new Set(threadsNamed(V8_WORKER_THREAD_NAME, pid));
  let v8Idle = 0;
  let fitThreads = 0;
  let fitThreadsIdle = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = procStat(`/proc/${pid}/task/${tid}/stat`);
    if (!stat) continue; // the thread ended meanwhile
    const kind: ThreadKind = Number(tid) === pid ? 'main' : stat.nice > 0 ? 'niced' : v8Workers.has(tid) ? 'v8Workers' : 'other';
    byTid.set(tid, { kind, cpuSeconds: stat.cpuSeconds });
    if (kind === 'v8Workers' && stat.policy === SCHED_IDLE) v8Idle++;
    if (kind === 'niced') {
      fitThreads++;
      if (stat.policy === SCHED_IDLE) fitThreadsIdle++;
    }
  }
  return { byTid, fitThreads, fitThreadsIdle, v8WorkersIdle: `${v8Idle} of ${v8Workers.size}` };
}

/**
 * The CPU time each kind of thread took between two readings, thread by thread: a thread started
 * meanwhile counts from 0; one that ended meanwhile (piscina ends a fit thread idle for a minute) is
 * not counted, as its last reading is gone.
 */
function threadCpuDelta(before: ReturnType<typeof threadCpuSeconds>, after: ReturnType<typeof threadCpuSeconds>): Record<ThreadKind, number> & { endedThreads: number } {
  const sums = { main: 0, niced: 0, v8Workers: 0, other: 0 };
  for (const [tid, t] of after.byTid) sums[t.kind] += t.cpuSeconds - (before.byTid.get(tid)?.cpuSeconds ?? 0);
  const endedThreads = [...before.byTid.keys()].filter((tid) => !after.byTid.has(tid)).length;
  return { ...sums, endedThreads };
}

/** Sets the policy of the adapter's V8 workers (as root: an unprivileged process may not leave SCHED_IDLE). */
function setV8Workers(pid: number, policy: '--idle' | '--other'): void {
  for (const tid of threadsNamed(V8_WORKER_THREAD_NAME, pid)) {
    const r = spawnSync('chrt', [policy, '--pid', '0', tid], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`chrt ${policy} --pid 0 ${tid}: ${r.stderr || r.error}`);
  }
}
/**
 * How long a thread has waited on a run queue, runnable but not running (the second field of
 * /proc/<pid>/task/<tid>/schedstat, in nanoseconds), and how many times it was scheduled (the third),
 * in milliseconds and counts: the CPU the serving thread was denied, whatever the network did.
 */
function runQueueWait(pid: number, tid: number): { waitMs: number; slices: number } {
  const [, wait, slices] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  return { waitMs: wait / 1e6, slices };
}

/**
 * Watches a thread's run-queue wait every 5 ms until stopped and returns its longest single waits: the
 * counter grows when the thread gets the CPU back, so one wait of 30 ms shows as one step of 30 ms.
 * A few reads of one small file every 5 ms, on the generator's CPU.
 */
function watchRunQueueWaits(pid: number, tid: number): () => number[] {
  let last = runQueueWait(pid, tid).waitMs;
  const steps: number[] = [];
  const timer = setInterval(() => {
    const now = runQueueWait(pid, tid).waitMs;
    steps.push(now - last);
    last = now;
  }, 5);
  return () => {
    clearInterval(timer);
    return steps.sort((a, b) => b - a).slice(0, 3).map((ms) => Math.round(ms * 10) / 10);
  };
}

/**
 * Time the hypervisor ran something else while a virtual CPU had work (steal, the eighth value of
 * /proc/stat's `cpuN` line), in milliseconds: on a VM, time no code on that CPU could use.
 */
function stealMs(cpu: number): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  return line ? (Number(line.trim().split(/ +/)[8]) * 1000) / CLOCK_TICKS : NaN;
}

/**
 * Prometheus on the load generator's CPU at its usual priority, or on the adapter's CPU at SCHED_IDLE
 * (it then runs only when the adapter's threads at SCHED_OTHER leave the CPU, as the fit threads do).
 */
function placePrometheus(pid: number, where: 'CPU 0' | 'CPU 1 at SCHED_IDLE'): void {
  pin(pid, where === 'CPU 0' ? '0' : '1');
  const policy = where === 'CPU 0' ? '--other' : '--idle';
  const r = spawnSync('chrt', [policy, '--all-tasks', '--pid', '0', String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chrt ${policy} --all-tasks --pid 0 ${pid}: ${r.stderr || r.error}`);
}

/** Pins every thread of a process to the given CPUs (`taskset -a -cp`). */
function pin(pid: number, cpus: string): void {
  const r = spawnSync('taskset', ['-a', '-cp', cpus, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset -a -cp ${cpus} ${pid}: ${r.stderr || r.error}`);
}

/** The sum of the samples of `name` (every label set) in the adapter's /metrics. */
async function adapterSum(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** The first sample of an instant query's answer, NaN when empty. */
async function promScalar(prometheus: PrometheusClient, query: string): Promise<number> {
  return (await prometheus.query(query))[0]?.value ?? NaN;
}

/**
 * Load on the external-metrics endpoint (a random workload a request), its figures printed: at a fixed
 * rate with the open-loop generator (bench/open-loop.ts: each request due at its time, latency from
 * then), at full speed with autocannon (10 connections, one request in flight on each).
 */
async function load(label: string, base: string, path: () => string, rate?: number, spinMs = 0): Promise<Record<string, unknown>> {
  if (rate) {
    const figures = await openLoop({ origin: base, path, rate, durationSeconds: DURATION, spinMs, openFirst: true });
    const l = figures.latencyMs;
    console.log(`${label}: ${figures.requests} requests, ${figures.throughputPerSecond.toFixed(0)} req/s, latency p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms, max ${l.max} ms, non-2xx ${figures.non2xx}, errors ${figures.errors} (generator late by p50 ${figures.sendLagMs.p50} ms, p99 ${figures.sendLagMs.p99} ms, max ${figures.sendLagMs.max} ms${spinMs > 0 ? `, polling for the last ${spinMs} ms before each due time` : ', sleeping on timers'})`);
    return { generator: 'open-loop', spinMs, ...figures };
  }
  const run = await autocannon({
    url: base,
    connections: 10,
    duration: DURATION,
    tlsOptions: { rejectUnauthorized: false },
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: path() }) }],
  });
  const figures = {
    generator: 'autocannon',
    requests: run.requests.total,
    throughputPerSecond: run.requests.average,
    latencyMs: { p50: run.latency.p50, p90: run.latency.p90, p99: run.latency.p99, max: run.latency.max },
    non2xx: run.non2xx,
    errors: run.errors,
  };
  console.log(`${label}: ${figures.requests} requests, ${figures.throughputPerSecond.toFixed(0)} req/s, latency p50 ${figures.latencyMs.p50} ms, p90 ${figures.latencyMs.p90} ms, p99 ${figures.latencyMs.p99} ms, max ${figures.latencyMs.max} ms, non-2xx ${figures.non2xx}, errors ${figures.errors}`);
  return figures;
}

/**
 * Where a run's slowest 1 % came from: their latency from the generator's send (without its own
 * lateness), and when they came, in bursts, next to when Prometheus last scraped the adapter (a scrape
 * renders some 35,000 series on the serving thread).
 */
async function tailLine(figures: Record<string, unknown>, prometheus: PrometheusClient): Promise<string> {
  const f = figures as unknown as OpenLoopFigures;
  const job = '{job="shadowscale-adapter"}';
  const scrapedAt = await promScalar(prometheus, `timestamp(scrape_duration_seconds${job})`);
  const scrapeSeconds = await promScalar(prometheus, `scrape_duration_seconds${job}`);
  const bursts = f.tailBursts.map((b) => `${(b.fromMs / 1000).toFixed(2)} s ×${b.requests} (≤ ${b.maxLatencyMs.toFixed(1)} ms, sent ≤ ${b.maxSendLagMs.toFixed(1)} ms late)`);
  const g = f.pauses;
  return `latency from each request's send: p50 ${f.sinceSendMs.p50} ms, p99 ${f.sinceSendMs.p99} ms; the slowest 1 % in ${bursts.length} bursts: ${bursts.join(', ')}; the adapter last scraped at ${((scrapedAt * 1000 - f.startedAtUnixMs) / 1000).toFixed(2)} s, for ${(scrapeSeconds * 1000).toFixed(0)} ms; the generator's own pauses: ${g.gcCount} collections, ${g.gcTotalMs} ms in all, the longest ${g.gcLongestMs} ms; its longest turns ${g.longestGapsMs.join(', ')} ms`;
}

/** The external-metrics request of a random workload. */
const externalMetricsPath = () => `/apis/external.metrics.k8s.io/v1beta1/namespaces/bench/shadowscale_predicted_load?labelSelector=workload%3Dw-${Math.floor(Math.random() * WORKLOADS)}`;

/**
 * The floor of this measurement on this machine: a server that answers every request with the same
 * small ExternalMetricValueList and does nothing else (its own process, HTTPS with a fresh
 * self-signed certificate unless --plain), pinned to CPU 1 with the generator on CPU 0, at a fixed
 * 1,000 req/s after a short warm-up: what the generator, the kernel and TLS cost before any adapter.
 */
async function floor(path: () => string): Promise<Record<string, unknown>> {
  const code = `
    const { generate } = await import(${JSON.stringify(import.meta.resolve('selfsigned'))});
    const body = JSON.stringify({ kind: 'ExternalMetricValueList', apiVersion: 'external.metrics.k8s.io/v1beta1', metadata: {}, items: [{ metricName: 'shadowscale_predicted_load', metricLabels: { workload: 'w-0' }, timestamp: new Date().toISOString(), value: '123' }] });
    const answer = (req, res) => { res.setHeader('content-type', 'application/json'); res.end(body); };
    let server;
    if (${PLAIN}) server = (await import('node:http')).createServer(answer);
    else {
      const pems = await generate([{ name: 'commonName', value: 'floor' }], { keySize: 2048 });
      server = (await import('node:https')).createServer({ cert: pems.cert, key: pems.private }, answer);
    }
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(ADAPTER_NODE.path, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
      child.once('exit', (status) => reject(new Error(`the floor's server exited (${status})`)));
    });
    pin(child.pid!, '1');
    pin(process.pid, '0');
    const base = `${PLAIN ? 'http' : 'https'}://127.0.0.1:${port}`;
    try {
      await openLoop({ origin: base, path, rate: 1000, durationSeconds: 3, spinMs: PINNED_SPIN_MS });
      return await load('floor: a server that only answers a fixed body, fixed 1000 req/s, on CPU 1 and the load generator on CPU 0', base, path, 1000, PINNED_SPIN_MS);
    } finally {
      pin(process.pid, '0,1');
    }
  } finally {
    child.kill();
  }
}

/**
 * The steady state, once every workload has its first forecast and its backtest: the adapter's CPU
 * (all its threads) over whole refresh intervals that span at least one step (a refresh fits only when a
 * new step has arrived, and keeps the forecast otherwise, so a shorter window could miss the fits or
 * hold all of them), how many refreshes it made in that time, how many of them fitted, the busiest
 * 10 s, and the oldest forecast it served (as Prometheus scraped them), then the external-metrics latency at a
 * fixed 1,000 req/s with the adapter and the load generator pinned to different CPUs.
 */
async function steadyState(pid: number, port: number, prometheus: PrometheusClient, prometheusPid: number, base: string, path: () => string): Promise<Record<string, unknown>> {
  const refreshSeconds = parseDuration(REFRESH);
  if (refreshSeconds === undefined) throw new Error(`--refresh ${REFRESH}: not a duration`);
  const stepSeconds = parseDuration(STEP);
  if (stepSeconds === undefined) throw new Error(`--step ${STEP}: not a duration`);
  const intervals = Math.max(STEADY_REFRESHES_MIN, Math.ceil(stepSeconds / refreshSeconds));
  const windowSeconds = intervals * refreshSeconds;
  // Refreshes counted from the adapter's own counters at both ends (exact; Prometheus' increase()
  // extrapolates): those that fitted and those that kept their forecast. The CPU from /proc, in all
  // and in each 10 s (the fits come in a burst after each step boundary).
  const fitsBefore = await adapterSum(port, 'shadowscale_fit_duration_seconds_count');
  const keptBefore = await adapterSum(port, 'shadowscale_forecasts_kept_total');
  const failedBefore = await adapterSum(port, 'shadowscale_fit_errors_total');
  const cpuBefore = cpuSeconds(pid);
  const t0 = performance.now();
  let busiest = 0;
  for (let last = { cpu: cpuBefore, at: t0 }; performance.now() - t0 < windowSeconds * 1000; ) {
    await new Promise((r) => setTimeout(r, Math.min(10_000, windowSeconds * 1000 - (performance.now() - t0))));
    const now = { cpu: cpuSeconds(pid), at: performance.now() };
    if (now.at - last.at >= 5_000) busiest = Math.max(busiest, (now.cpu - last.cpu) / ((now.at - last.at) / 1000));
    last = now;
  }
  const elapsed = (performance.now() - t0) / 1000;
  const cores = (cpuSeconds(pid) - cpuBefore) / elapsed;
  const fits = (await adapterSum(port, 'shadowscale_fit_duration_seconds_count')) - fitsBefore;
  const kept = (await adapterSum(port, 'shadowscale_forecasts_kept_total')) - keptBefore;
  const refreshes = fits + kept;
  const failed = (await adapterSum(port, 'shadowscale_fit_errors_total')) - failedBefore;
  // Let Prometheus scrape the end of the window before asking it for the oldest forecast served.
  await new Promise((r) => setTimeout(r, 11_000));
  const range = `${Math.round(windowSeconds)}s`;
  const maxAge = await promScalar(prometheus, `max(max_over_time(shadowscale_forecast_age_seconds[${range}]))`);
  // Each workload is due every refresh × (1 + jitter/2) on average (jitter 0.1 by default).
  const expected = (WORKLOADS * elapsed) / (refreshSeconds * 1.05);
  console.log(`steady state over ${elapsed.toFixed(0)} s (${intervals} refresh intervals of ${refreshSeconds} s, steps of ${stepSeconds} s): adapter CPU ${cores.toFixed(2)} cores on average (all threads; the busiest 10 s ${busiest.toFixed(2)}), ${refreshes.toFixed(0)} refreshes (${((100 * refreshes) / expected).toFixed(0)} % of the ${expected.toFixed(0)} due; ${fits.toFixed(0)} fitted, ${kept.toFixed(0)} kept their forecast, no new step yet; ${failed.toFixed(0)} failed), oldest forecast served ${maxAge.toFixed(0)} s`);

  // The adapter on CPU 1, this process (the load generator) on CPU 0, and Prometheus with the
  // generator: in a cluster it runs elsewhere, and here, scraping 35,000 series every 10 s and
  // answering the refreshes' queries, it took half of the adapter's CPU when it was scheduled there
  // (p99 150-167 ms in two runs, against 31 ms with Prometheus on CPU 0).
  pin(pid, '1');
  pin(process.pid, '0');
  pin(prometheusPid, '0');
  try {
    const runs: Array<{ prometheus: string; figures: Record<string, unknown>; threadCpuSeconds: Record<string, number>; serving: { runQueueWaitMs: number; scheduled: number; longestWaitsMs: number[] }; stealMs: { cpu0: number; cpu1: number }; v8WorkersIdle: string }> = [];
    for (let run = 1; run <= PINNED_RUNS; run++) {
      if (COMPARE_V8_WORKERS) setV8Workers(pid, run % 2 === 1 ? '--other' : '--idle');
      const prometheusPlacement = COMPARE_PROMETHEUS && run % 2 === 0 ? 'CPU 1 at SCHED_IDLE' : 'CPU 0';
      if (COMPARE_PROMETHEUS) placePrometheus(prometheusPid, prometheusPlacement);
      const threadsBefore = threadCpuSeconds(pid);
      const waitBefore = runQueueWait(pid, pid);
      const stealBefore = [stealMs(0), stealMs(1)];
      const longestWaits = watchRunQueueWaits(pid, pid);
      const placement = prometheusPlacement === 'CPU 0' ? 'the load generator and Prometheus on CPU 0' : 'Prometheus with it at SCHED_IDLE, the load generator alone on CPU 0';
      const figures = await load(`steady state, fixed 1000 req/s, adapter on CPU 1, ${placement}, run ${run} of ${PINNED_RUNS}`, base, path, 1000, PINNED_SPIN_MS);
      const threadsAfter = threadCpuSeconds(pid);
      const waitAfter = runQueueWait(pid, pid);
      const longest = longestWaits();
      const steal = [stealMs(0) - stealBefore[0], stealMs(1) - stealBefore[1]].map(Math.round);
      // Asked of Prometheus once the run's own figures are read.
      console.log(`  ${await tailLine(figures, prometheus)}`);
      const waited = { ms: waitAfter.waitMs - waitBefore.waitMs, slices: waitAfter.slices - waitBefore.slices };
      const delta = threadCpuDelta(threadsBefore, threadsAfter);
      const threads = { main: delta.main, fitWorkers: delta.niced, v8Workers: delta.v8Workers, other: delta.other };
      const ended = delta.endedThreads > 0 ? ` (${delta.endedThreads} thread${delta.endedThreads > 1 ? 's' : ''} ended meanwhile, not counted)` : '';
      console.log(`  CPU 1 meanwhile (${DURATION} s): the adapter's serving thread ${threads.main.toFixed(2)} s, its fit threads (${threadsAfter.fitThreadsIdle} of ${threadsAfter.fitThreads} at SCHED_IDLE, nice +${FIT_NICE_INCREMENT}) ${threads.fitWorkers.toFixed(2)} s, V8's workers (${threadsAfter.v8WorkersIdle} at SCHED_IDLE) ${threads.v8Workers.toFixed(2)} s, its other threads ${threads.other.toFixed(2)} s${ended};`);
      console.log(`  the serving thread waited for CPU 1 ${waited.ms.toFixed(0)} ms in all, runnable but not running, over ${waited.slices} times it ran (${((1000 * waited.ms) / Math.max(1, waited.slices)).toFixed(0)} µs a time), the longest ${longest.join(', ')} ms;`);
      console.log(`  the hypervisor took (steal) ${steal[1]} ms of CPU 1 and ${steal[0]} ms of CPU 0`);
      runs.push({ prometheus: prometheusPlacement, figures, threadCpuSeconds: threads, serving: { runQueueWaitMs: Math.round(waited.ms), scheduled: waited.slices, longestWaitsMs: longest }, stealMs: { cpu0: steal[0], cpu1: steal[1] }, v8WorkersIdle: threadsAfter.v8WorkersIdle });
    }
    const p99s = runs.map((r) => (r.figures.latencyMs as { p99: number }).p99).sort((a, b) => a - b);
    console.log(`  pinned steady-state p99 over ${PINNED_RUNS} runs: ${p99s.join(', ')} ms (median ${p99s[Math.floor(p99s.length / 2)]} ms)`);
    // The alternating runs' two groups (one comparison at a time), each with its p99 from each due time
    // and from each send.
    const groups = COMPARE_PROMETHEUS
      ? ['with Prometheus on CPU 0 with the load generator', 'with Prometheus on CPU 1 with the adapter, at SCHED_IDLE']
      : COMPARE_V8_WORKERS
        ? ["with V8's workers at SCHED_OTHER", "with V8's workers at SCHED_IDLE"]
        : [];
    groups.forEach((label, parity) => {
      const group = runs.filter((_, i) => i % 2 === parity);
      const sorted = (pick: (f: OpenLoopFigures) => number) => group.map((r) => pick(r.figures as unknown as OpenLoopFigures)).sort((a, b) => a - b);
      const [p99, sinceSend] = [sorted((f) => f.latencyMs.p99), sorted((f) => f.sinceSendMs.p99)];
      console.log(`  ${label} (runs ${parity + 1}, ${parity + 3}, ...): p99 ${p99.join(', ')} ms (median ${p99[Math.floor(p99.length / 2)]} ms); from each send ${sinceSend.join(', ')} ms (median ${sinceSend[Math.floor(sinceSend.length / 2)]} ms)`);
    });
    return { windowSeconds: elapsed, adapterCores: cores, busiest10sCores: busiest, refreshes, fits, forecastsKept: kept, refreshesDue: expected, failedRefreshes: failed, maxForecastAgeSeconds: maxAge, pinnedRuns: runs, pinnedP99MedianMs: p99s[Math.floor(p99s.length / 2)] };
  } finally {
    if (COMPARE_PROMETHEUS) placePrometheus(prometheusPid, 'CPU 0');
    pin(pid, '0,1');
    pin(process.pid, '0,1');
    pin(prometheusPid, '0,1');
  }
}

async function main(): Promise<void> {
  // One real series; each workload's query scales it differently, so every workload is its own
  // query and its own fit while Prometheus stores one series.
  // Before anything else runs: the floor of the latency figures below.
  const floorFigures = await floor(externalMetricsPath);
  const trace = loadFixture(NASA_TWO_WEEKS);
  const timestamps = shiftToNow(trace.timestamps, 60);
  const ports = { http: await freePort(), https: await freePort() };
  // It scrapes the adapter (every 10 s: 1,000 workloads export tens of thousands of series), so that a
  // restarted adapter finds its backtest scores there.
  const prometheus = await startPrometheus({
    history: [{ name: 'http_requests_per_minute', labels: { workload: 'nasa' }, timestamps, values: trace.values }],
    ...(RESTART ? { scrapeTargets: [{ job: 'shadowscale-adapter', target: `127.0.0.1:${ports.http}` }], scrapeInterval: '10s' } : {}),
  });
  const client = new PrometheusClient({ url: prometheus.url, timeoutSeconds: 30 });
  const dir = mkdtempSync(join(tmpdir(), 'shadowscale-bench-'));
  const workloads = Array.from({ length: WORKLOADS }, (_, i) => [
    `  - name: w-${i}`,
    `    namespace: bench`,
    `    load: http_requests_per_minute{workload="nasa"} * ${(1 + i / WORKLOADS).toFixed(4)} / 60`,
    `    capacityPerReplica: 0.5`,
    `    provisioningLag: 2m`,
    `    model: ${MODEL}`,
    `    primary: { name: w-${i}, minReplicas: 1, maxReplicas: 200 }`,
    `    shadow: { name: w-${i}-shadow, minReplicas: 1, maxReplicas: 20 }`,
  ].join('\n'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    [
      `prometheus: { url: ${prometheus.url}, timeout: 30s }`,
      `adapter:`,
      `  listen: { http: "127.0.0.1:${ports.http}", https: "127.0.0.1:${ports.https}" }`,
      `  history: ${HISTORY}`,
      `  step: ${STEP}`,
      `  refresh: ${REFRESH}`,
      `  concurrency: 2`,
      `workloads:`,
      ...workloads,
      '',
    ].join('\n'),
  );

  // As the image runs it: the compiled dist/, no TypeScript loader (in the process or its workers).
  const command = builtShadowscale(['adapter', '--config', configFile]);
  const stdout = ADAPTER_FLAGS.length > 0 ? openSync(join(dir, 'adapter-stdout.log'), 'a') : 'ignore';
  if (ADAPTER_FLAGS.length > 0) process.stderr.write(`adapter flags ${ADAPTER_FLAGS.join(' ')}; its output in ${join(dir, 'adapter-stdout.log')}\n`);
  console.log(`the adapter runs on ${ADAPTER_NODE.described}`);
  const start = () => spawn(ADAPTER_NODE.path, [...ADAPTER_FLAGS, ...command], { stdio: ['ignore', stdout, 'inherit'] });
  let started = performance.now();
  let adapter = start();
  const results: Record<string, unknown> = { floor: floorFigures, adapterNode: ADAPTER_NODE.version, adapterFlags: ADAPTER_FLAGS, compareV8Workers: COMPARE_V8_WORKERS };
  try {
    await waitFor(`http://127.0.0.1:${ports.http}/healthz`, 60_000);
    const listening = (performance.now() - started) / 1000;
    process.stderr.write(`adapter listening after ${listening.toFixed(1)} s; computing ${WORKLOADS} forecasts...\n`);
    await waitFor(`http://127.0.0.1:${ports.http}/readyz`, 3_600_000);
    const firstRound = (performance.now() - started) / 1000;
    results.firstRoundSeconds = firstRound;
    console.log(`first forecasts of ${WORKLOADS} workloads (${MODEL}, ${HISTORY} at ${STEP}; their backtests follow at each one's next refresh): ${firstRound.toFixed(1)} s from start (${((firstRound * 1000) / WORKLOADS).toFixed(0)} ms a workload on 2 worker threads)`);

    const base = PLAIN ? `http://127.0.0.1:${ports.http}` : `https://127.0.0.1:${ports.https}`;
    const path = externalMetricsPath;
    // Right after the first forecasts, while every workload's first backtest runs (both cores busy).
    for (const [name, rate] of [['fixed 1000 req/s', 1000], ['full speed', undefined]] as const) results[name] = await load(`${name}, while the first backtests run`, base, path, rate);
    // wrk (C, Debian package `wrk`), when installed: a load generator that costs less CPU than
    // autocannon, so on two cores it shows more of the adapter and less of the client.
    const wrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
    if (wrk.error === undefined) {
      const script = join(dir, 'random-workload.lua');
      writeFileSync(script, `math.randomseed(os.time())\nrequest = function()\n  return wrk.format("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/bench/shadowscale_predicted_load?labelSelector=workload%3Dw-" .. math.random(0, ${WORKLOADS - 1}))\nend\n`);
      const run = spawnSync('wrk', ['-t1', '-c10', `-d${DURATION}s`, '--latency', '-s', script, base], { encoding: 'utf8' });
      const pick = (label: string) => new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)`).exec(run.stdout);
      const toMs = (m: RegExpExecArray | null) => (m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(run.stdout)?.[1]);
      const figures = { throughputPerSecond: rps, latencyMs: { p50: toMs(pick('50%')), p90: toMs(pick('90%')), p99: toMs(pick('99%')) } };
      results['wrk full speed'] = figures;
      console.log(`wrk full speed (1 thread, 10 connections): ${rps.toFixed(0)} req/s, latency p50 ${figures.latencyMs.p50} ms, p90 ${figures.latencyMs.p90} ms, p99 ${figures.latencyMs.p99} ms`);
    }
    // What the adapter says of itself after the run.
    const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
    const sample = (name: string) => metrics.split('\n').filter((l) => l.startsWith(name)).map((l) => Number(l.split(' ').pop()));
    const fitSum = sample('shadowscale_fit_duration_seconds_sum').reduce((a, b) => a + b, 0);
    const fitCount = sample('shadowscale_fit_duration_seconds_count').reduce((a, b) => a + b, 0);
    results.fits = { count: fitCount, meanSeconds: fitSum / fitCount };
    console.log(`fits so far: ${fitCount}, mean ${((fitSum / fitCount) * 1000).toFixed(0)} ms (worker time, including backtests)`);
    // Server-side time of the handler (from the adapter's own histogram), without TLS and network.
    const buckets = metrics
      .split('\n')
      .filter((l) => l.startsWith('shadowscale_adapter_request_duration_seconds_bucket{') && l.includes('api="external_metrics"') && l.includes('code="200"'))
      .map((l) => ({ le: Number(/le="([^"]+)"/.exec(l)![1].replace('+Inf', 'Infinity')), count: Number(l.split(' ').pop()) }));
    const total = buckets.find((b) => b.le === Infinity)?.count ?? 0;
    const quantile = (q: number) => buckets.find((b) => b.count >= q * total)?.le;
    results.serverSide = { requests: total, p50AtMostSeconds: quantile(0.5), p99AtMostSeconds: quantile(0.99) };
    console.log(`server-side handler time over ${total} requests: p50 ≤ ${quantile(0.5)! * 1000} ms, p99 ≤ ${quantile(0.99)! * 1000} ms (histogram bucket bounds)`);

    // Every workload scored (its backtest, a refresh after its first fit), as Prometheus has scraped it;
    // then the steady state, and a restart (a rolling update): the adapter again, reading those scores back.
    for (let i = 0; RESTART; i++) {
      if ((await promScalar(client, 'count(shadowscale_backtest_timestamp_seconds)')) >= WORKLOADS) {
        results.allScoredSeconds = (performance.now() - started) / 1000;
        console.log(`every workload's backtest done and scraped: ${(results.allScoredSeconds as number).toFixed(1)} s from start`);
        break;
      }
      if (i > 900) throw new Error('the backtest scores were not all scraped within 15 minutes');
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (RESTART) {
      results.steadyState = await steadyState(adapter.pid!, ports.http, client, prometheus.pid, base, path);
      adapter.kill('SIGTERM');
      await new Promise((r) => adapter.once('exit', r));
      started = performance.now();
      adapter = start();
      await waitFor(`http://127.0.0.1:${ports.http}/readyz`, 3_600_000);
      const restart = (performance.now() - started) / 1000;
      results.restartFirstRoundSeconds = restart;
      console.log(`restarted: first forecasts of ${WORKLOADS} workloads with their backtest scores read back from Prometheus: ${restart.toFixed(1)} s from start (${((restart * 1000) / WORKLOADS).toFixed(0)} ms a workload)`);
    }
  } finally {
    adapter.kill('SIGTERM');
    await new Promise((r) => adapter.once('exit', r));
    await prometheus.stop();
  }
  const out = join(ROOT, 'bench', 'results', 'adapter.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), machine: `${process.platform} ${process.arch}, node ${process.version}`, workloads: WORKLOADS, model: MODEL, history: HISTORY, step: STEP, refresh: REFRESH, transport: PLAIN ? 'http' : 'https', durationSeconds: DURATION, ...results }, null, 2)}\n`);
  console.log('wrote bench/results/adapter.json');
}

await main();
