/**
 * The demo's load generator: open loop (requests are sent at the scenario's rate whether or not the
 * service keeps up, as users do), each with a timeout, at most `maxInFlight` outstanding (beyond, a
 * request counts as unserved at once). Counts what was offered and how each ended, and keeps every
 * latency for the percentiles.
 */
import http from 'node:http';

export interface LoadStats {
  offered: number;
  ok: number;
  /** 5xx answers (503 from an overloaded replica or from the proxy with no ready replica). */
  errors: number;
  timeouts: number;
  /** Not sent: too many requests outstanding. */
  dropped: number;
}

export class LoadGenerator {
  readonly stats: LoadStats = { offered: 0, ok: 0, errors: 0, timeouts: 0, dropped: 0 };
  private latencies: number[] = [];
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private credit = 0;
  private last = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  /** Called with each request offered (the demo's exporter counts them as the workload's load). */
  onOffered?: () => void;
  /** Called with each request's end: the replica that answered (its `x-served-by`: set/pid), how long it took, how it ended. */
  onAnswer?: (answer: { servedBy?: string; ms: number; outcome: 'ok' | 'errors' | 'timeouts' }) => void;

  constructor(
    private readonly target: () => string,
    private readonly rate: () => number,
    readonly options: { timeoutMs: number; maxInFlight: number } = { timeoutMs: 2000, maxInFlight: 400 },
  ) {}

  start(): void {
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), 10);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + this.options.timeoutMs + 500;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.agent.destroy();
  }

  /** The q-quantile of the latencies of every request sent (a timed-out one counts as the timeout), in seconds. */
  quantile(q: number): number {
    if (this.latencies.length === 0) return NaN;
    const sorted = Float64Array.from(this.latencies).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000;
  }

  private tick(): void {
    const now = performance.now();
    this.credit += (this.rate() * (now - this.last)) / 1000;
    this.last = now;
    while (this.credit >= 1) {
      this.credit -= 1;
      this.send();
    }
  }

  private send(): void {
    this.stats.offered++;
    this.onOffered?.();
    if (this.inFlight >= this.options.maxInFlight) {
      this.stats.dropped++;
      return;
    }
    this.inFlight++;
    const began = performance.now();
    let settled = false;
    const done = (outcome: 'ok' | 'errors' | 'timeouts', servedBy?: string) => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      this.stats[outcome]++;
      // What the user waited: a timed-out request counts at the timeout.
      const ms = outcome === 'timeouts' ? this.options.timeoutMs : performance.now() - began;
      this.latencies.push(ms);
      this.onAnswer?.({ ...(servedBy ? { servedBy } : {}), ms, outcome });
    };
    const req = http.get(`http://${this.target()}/`, { agent: this.agent, timeout: this.options.timeoutMs }, (res) => {
      res.resume();
      const servedBy = res.headers['x-served-by'];
      const by = typeof servedBy === 'string' ? servedBy : undefined;
      res.on('end', () => done(res.statusCode !== undefined && res.statusCode < 500 ? 'ok' : 'errors', by));
      res.on('error', () => done('errors', by));
    });
    req.on('timeout', () => {
      req.destroy();
      done('timeouts');
    });
    req.on('error', () => done('errors'));
  }
}
