/**
 * An open-loop load generator at a fixed rate, for the benches' latency figures: request i is due at
 * start + i / rate whatever the answers before it did, and its latency runs from that due time to the
 * end of its answer, so a server (or a generator) that falls behind shows it in the latencies instead
 * of sending less (no coordinated omission, measured rather than corrected afterwards).
 *
 * Why not autocannon's `overallRate`: autocannon gives each connection a quota per second, which the
 * connection spends back to back at full speed from the start of each second (a burst, then silence),
 * and it "corrects" coordinated omission by recording, for every answer slower than 1 ms, one extra
 * sample per millisecond it took (its expected interval is ceil(1 / rate) ms, 1 ms at any rate above
 * 1 req/s per connection). Both inflate the tail of a fixed-rate measurement; autocannon stays the
 * generator at full speed.
 *
 * Requests go over a pool of keep-alive connections (undici), as an API server's aggregator keeps them;
 * a request finds a free connection or waits for one, and that wait counts in its latency. With
 * `openFirst`, the connections are opened before the clock starts (one untimed request on each), as an
 * aggregator's are open already: otherwise ten TLS handshakes make the first burst of slow answers.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface OpenLoopFigures {
  requests: number;
  throughputPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  non2xx: number;
  errors: number;
  /** How late the generator itself sent its requests (send time − due time), p50, p99 and max: when these are large, the latencies measure the generator. */
  sendLagMs: { p50: number; p99: number; max: number };
  /** Latency from the time the generator sent each request (without its own lateness), p50 and p99. */
  sinceSendMs: { p50: number; p99: number };
  /**
   * When the slowest 1 % came (latency at or above p99), as bursts: requests due within 50 ms of each
   * other are one burst; ms from the start of the run, how many, their largest latency and send lag.
   */
  tailBursts: Array<{ fromMs: number; toMs: number; requests: number; maxLatencyMs: number; maxSendLagMs: number }>;
  /** Unix ms at which request 0 was due (to line the bursts up with other clocks). */
  startedAtUnixMs: number;
  /**
   * The generator's own pauses: its garbage collections meanwhile (count, total and longest ms, from
   * perf_hooks) and, while it polls (spinMs), its longest turns of the event loop over 2 ms, in ms: a
   * request due during one goes out late, and an answer that arrives during one is read late.
   */
  pauses: { gcCount: number; gcTotalMs: number; gcLongestMs: number; longestGapsMs: number[] };
}

export interface OpenLoopOptions {
  /** The server's origin, `https://127.0.0.1:8443`. */
  origin: string;
  /** The path of request i. */
  path: (i: number) => string;
  /** Requests per second. */
  rate: number;
  durationSeconds: number;
  /** Kept connections (10). */
  connections?: number;
  /**
   * How close to the next due time, in ms, the generator stops sleeping on a timer and polls its event
   * loop instead (setImmediate), so that it sends within tens of µs of each due time rather than up to
   * a timer's granularity (~1 ms) late, which would count in every latency. Polling keeps a CPU busy:
   * for a generator pinned to a CPU of its own. 0 (the default) sleeps on timers only.
   */
  spinMs?: number;
  /** Open every connection before the clock starts, with an untimed request on each (path(0), path(1), ...). */
  openFirst?: boolean;
}

/** The q-quantile of sorted values (nearest rank). */
function rank(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopFigures> {
  const { origin, path, rate, durationSeconds } = options;
  const spinMs = options.spinMs ?? 0;
  if (!(spinMs >= 0)) throw new Error(`openLoop: spinMs (${options.spinMs}) must be 0 or more`);
  if (!(rate > 0) || !(durationSeconds > 0)) throw new Error(`openLoop: rate (${rate}) and durationSeconds (${durationSeconds}) must be positive`);
  const pool = new Pool(origin, { connections: options.connections ?? 10, pipelining: 1, connect: { rejectUnauthorized: false } });
  const total = Math.round(rate * durationSeconds);
  // Every connection opened (requests in flight at once each take one), untimed.
  if (options.openFirst) {
    try {
      await Promise.all(Array.from({ length: options.connections ?? 10 }, (_, i) => pool.request({ method: 'GET', path: path(i) }).then(({ body }) => body.dump())));
    } catch (error) {
      await pool.close();
      throw error;
    }
  }
  const latencies = new Float64Array(total);
  const sendLags = new Float64Array(total);
  let non2xx = 0;
  let errors = 0;
  // Answers still awaited, and what to call when the last one arrives (no array of every request's
  // promise: a soak sends hundreds of thousands).
  let pending = 0;
  let drained: (() => void) | undefined;
  const gcs: number[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcs.push(entry.duration);
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const gaps: number[] = [];
  const start = performance.now();
  const startedAtUnixMs = Date.now();
  const due = (i: number) => start + (i * 1000) / rate;
  try {
    let sent = 0;
    while (sent < total) {
      const now = performance.now();
      const upTo = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      for (; sent < upTo; sent++) {
        const i = sent;
        sendLags[i] = now - due(i);
        pending++;
        pool
          .request({ method: 'GET', path: path(i) })
          .then(async ({ statusCode, body }) => {
            await body.dump();
            if (statusCode < 200 || statusCode >= 300) non2xx++;
          })
          .catch(() => {
            errors++;
          })
          .finally(() => {
            latencies[i] = performance.now() - due(i);
            if (--pending === 0) drained?.();
          });
      }
      // Wake up at the next due time. Timers are ~1 ms coarse (whatever is due by then goes out
      // together, late): within spinMs of it, poll the event loop instead, answers included.
      const wait = due(sent) - performance.now();
      if (wait < spinMs) {
        const before = performance.now();
        await new Promise((r) => setImmediate(r));
        // A turn takes microseconds; a longer one is a pause (a collection, a preemption, answers read).
        const took = performance.now() - before;
        if (took > 2) gaps.push(took);
      } else await new Promise((r) => setTimeout(r, Math.max(0, wait - spinMs)));
    }
    if (pending > 0) await new Promise<void>((resolve) => (drained = resolve));
  } finally {
    gcObserver.disconnect();
    await pool.close();
  }
  const elapsedSeconds = (performance.now() - start) / 1000;
  const round = (ms: number) => Math.round(ms * 100) / 100;
  const sinceSend = latencies.map((l, i) => l - sendLags[i]).sort();
  const p99 = rank(Float64Array.from(latencies).sort(), 0.99);
  const tailBursts: OpenLoopFigures['tailBursts'] = [];
  for (let i = 0; i < total; i++) {
    if (!(latencies[i] >= p99)) continue;
    const at = due(i) - start;
    const last = tailBursts.at(-1);
    if (last && at - last.toMs <= 50) {
      last.toMs = round(at);
      last.requests++;
      last.maxLatencyMs = Math.max(last.maxLatencyMs, round(latencies[i]));
      last.maxSendLagMs = Math.max(last.maxSendLagMs, round(sendLags[i]));
    } else tailBursts.push({ fromMs: round(at), toMs: round(at), requests: 1, maxLatencyMs: round(latencies[i]), maxSendLagMs: round(sendLags[i]) });
  }
  latencies.sort();
  sendLags.sort();
  return {
    requests: total,
    throughputPerSecond: total / elapsedSeconds,
    latencyMs: { p50: round(rank(latencies, 0.5)), p90: round(rank(latencies, 0.9)), p99: round(rank(latencies, 0.99)), p999: round(rank(latencies, 0.999)), max: round(latencies[total - 1]) },
    non2xx,
    errors,
    sendLagMs: { p50: round(rank(sendLags, 0.5)), p99: round(rank(sendLags, 0.99)), max: round(sendLags[total - 1]) },
    sinceSendMs: { p50: round(rank(sinceSend, 0.5)), p99: round(rank(sinceSend, 0.99)) },
    tailBursts,
    startedAtUnixMs,
    pauses: {
      gcCount: gcs.length,
      gcTotalMs: round(gcs.reduce((a, b) => a + b, 0)),
      gcLongestMs: round(Math.max(0, ...gcs)),
      longestGapsMs: gaps.sort((a, b) => b - a).slice(0, 3).map(round),
    },
  };
}
