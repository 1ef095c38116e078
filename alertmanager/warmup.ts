/**
 * Synthetic warm-up traffic (`workloads[].shadow.warmup`, off by default): for shadows whose mirror
 * cannot be used (writes, stateful paths), replays the recent shape of the primary's request mix
 * against the shadow. The mix is the primary's request rate by method and path from Prometheus (or a
 * recorded sample, one `METHOD /path` per line); only allow-listed methods and paths are replayed;
 * the rate is `share` × the primary's allowed rate, never above `maxRps`; at most a few requests are in
 * flight (a slow shadow gets fewer, not a queue). Responses are read and dropped. Requests stay on the
 * shadow: only the path is taken from the mix, redirects are not followed, and methods that change
 * state are replayed only when the configuration names them and sets `unsafeMethods: true`.
 */
import { readFileSync } from 'node:fs';

import { Counter, Gauge, type Registry } from 'prom-client';

import type { PrometheusClient } from '../platform/prometheus.ts';
import type { WorkloadConfig } from '../core/config.ts';

export type WarmupConfig = NonNullable<NonNullable<WorkloadConfig['shadow']>['warmup']>;

export interface MixEntry {
  method: string;
  path: string;
  /** Requests per second at the primary (or a weight, for a recorded sample). */
  rate: number;
}

const MAX_IN_FLIGHT = 4;

/** The serving set's requests by method and path: traffic keyed by Deployment, joined with the role the rules record. */
export function defaultMixQuery(w: WorkloadConfig): string {
  const ns = JSON.stringify(w.namespace);
  return `sum by (method, path) (rate(http_requests_total{namespace=${ns}}[5m]) * on (namespace, deployment) group_left () shadowscale:deployment_role:info{namespace=${ns},workload=${JSON.stringify(w.name)},role="primary"})`;
}

/** Reads a recorded sample: `METHOD /path` per line (blank lines and # comments skipped); errors name the line. */
export function parseSample(text: string, where: string): MixEntry[] {
  const counts = new Map<string, MixEntry>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^([A-Z]+)\s+(\/\S*)$/.exec(line);
    if (!m) throw new Error(`${where}:${i + 1}: expected "METHOD /path", got "${line.slice(0, 80)}"`);
    const key = `${m[1]} ${m[2]}`;
    const e = counts.get(key) ?? { method: m[1], path: m[2], rate: 0 };
    e.rate++;
    counts.set(key, e);
  });
  return [...counts.values()];
}

/**
 * The URL of a warm-up request: the shadow's origin and the mix's path, or undefined when the path
 * could lead anywhere else. The path comes from a Prometheus label, which any scraped pod can set:
 * only an origin-relative path (`/x`, not `//host/x`, no backslashes or control characters) is used,
 * and the result must still be on the shadow's origin.
 */
export function warmupUrl(target: string, path: string): URL | undefined {
  if (!path.startsWith('/') || path.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(path)) return undefined;
  const origin = new URL(target).origin;
  let url: URL;
  try {
    url = new URL(path, origin);
  } catch {
    return undefined;
  }
  return url.origin === origin ? url : undefined;
}

/** The allow-listed part of a mix: methods in the list, paths matching one of the patterns as a whole and staying on the shadow. */
export function allowed(mix: readonly MixEntry[], cfg: Pick<WarmupConfig, 'methods' | 'paths'>): MixEntry[] {
  const patterns = cfg.paths.map((p) => new RegExp(`^(?:${p})$`));
  return mix.filter(
    (e) =>
      (cfg.methods as readonly string[]).includes(e.method.toUpperCase()) &&
      patterns.some((re) => re.test(e.path)) &&
      warmupUrl('http://shadow.invalid', e.path) !== undefined &&
      e.rate > 0 &&
      Number.isFinite(e.rate),
  );
}

export interface WarmupMetrics {
  requests: Counter<'namespace' | 'workload' | 'outcome'>;
  rate: Gauge<'namespace' | 'workload'>;
}

export function warmupMetrics(registry: Registry): WarmupMetrics {
  return {
    requests: new Counter({
      name: 'shadowscale_warmup_requests_total',
      help: 'Synthetic warm-up requests sent to shadows, by outcome (ok: 2xx-4xx answer; error: 5xx, timeout or connection error; skipped: too many in flight).',
      labelNames: ['namespace', 'workload', 'outcome'],
      registers: [registry],
    }),
    rate: new Gauge({ name: 'shadowscale_warmup_target_rps', help: 'Rate the warm-up generator aims at for the shadow, requests per second (after share and maxRps).', labelNames: ['namespace', 'workload'], registers: [registry] }),
  };
}

export class WarmupGenerator {
  private mix: MixEntry[] = [];
  private rps = 0;
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private refresher?: NodeJS.Timeout;
  private stopped = false;
  private readonly sample?: MixEntry[];
  private readonly credit = new Map<string, number>();

  constructor(
    private readonly w: WorkloadConfig,
    private readonly cfg: WarmupConfig,
    private readonly prometheus: Pick<PrometheusClient, 'query'>,
    private readonly metrics: WarmupMetrics,
    private readonly onError: (message: string) => void = () => undefined,
    /** Sends only while this says so (the leader, not in dry-run mode). */
    private readonly active: () => boolean = () => true,
  ) {
    if (cfg.sample) this.sample = parseSample(readFileSync(cfg.sample, 'utf8'), cfg.sample);
  }

  get targetRps(): number {
    return this.rps;
  }

  /** Reads the mix again and sets the rate. */
  async refresh(): Promise<void> {
    let mix: MixEntry[] = [];
    let fromSample = false;
    try {
      const rows = await this.prometheus.query(this.cfg.mix ?? defaultMixQuery(this.w));
      mix = rows.map((r) => ({ method: r.labels.method ?? 'GET', path: r.labels.path ?? '', rate: r.value }));
    } catch (error) {
      this.onError(`warm-up mix of ${this.w.namespace}/${this.w.name}: ${(error as Error).message}`);
    }
    if (mix.length === 0 && this.sample) {
      mix = this.sample;
      fromSample = true;
    }
    const kept = allowed(mix, this.cfg);
    const total = kept.reduce((sum, e) => sum + e.rate, 0);
    const share = this.cfg.share ?? (this.w.shadow?.mirrorPercent ?? 10) / 100;
    // A recorded sample has weights, not rates: it runs at maxRps.
    this.rps = kept.length === 0 ? 0 : fromSample ? this.cfg.maxRps : Math.min(this.cfg.maxRps, share * total);
    this.mix = kept;
    this.metrics.rate.set({ namespace: this.w.namespace, workload: this.w.name }, this.rps);
  }

  async start(): Promise<void> {
    await this.refresh();
    const again = () => {
      if (this.stopped) return;
      this.refresher = setTimeout(() => void this.refresh().finally(again), this.cfg.refresh * 1000);
      this.refresher.unref();
    };
    again();
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.refresher);
  }

  private tick(): void {
    if (this.stopped) return;
    // Evenly spaced at the current rate; with nothing to replay, look again in a second.
    const wait = this.rps > 0 ? 1000 / this.rps : 1000;
    this.timer = setTimeout(() => {
      if (this.rps > 0 && this.mix.length > 0 && this.active()) this.fire();
      this.tick();
    }, wait);
    this.timer.unref();
  }

  /** Smooth weighted round robin (nginx's): each entry gets its exact share, evenly interleaved. */
  private pick(): MixEntry {
    const total = this.mix.reduce((s, e) => s + e.rate, 0);
    let best = this.mix[0];
    for (const e of this.mix) {
      const key = `${e.method} ${e.path}`;
      this.credit.set(key, (this.credit.get(key) ?? 0) + e.rate);
      if (this.credit.get(key)! > this.credit.get(`${best.method} ${best.path}`)!) best = e;
    }
    const bestKey = `${best.method} ${best.path}`;
    this.credit.set(bestKey, this.credit.get(bestKey)! - total);
    return best;
  }

  private fire(): void {
    const labels = { namespace: this.w.namespace, workload: this.w.name };
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.metrics.requests.inc({ ...labels, outcome: 'skipped' });
      return;
    }
    const e = this.pick();
    this.inFlight++;
    const url = warmupUrl(this.cfg.target!, e.path);
    if (!url) {
      this.inFlight--;
      this.metrics.requests.inc({ ...labels, outcome: 'error' });
      return;
    }
    // A redirect is an answer, never followed: it could lead off the shadow.
    fetch(url, { method: e.method, redirect: 'manual', headers: { 'x-shadowscale-warmup': '1' }, signal: AbortSignal.timeout(this.cfg.timeout * 1000) })
      .then(async (res) => {
        await res.arrayBuffer();
        this.metrics.requests.inc({ ...labels, outcome: res.status >= 500 ? 'error' : 'ok' });
      })
      .catch(() => this.metrics.requests.inc({ ...labels, outcome: 'error' }))
      .finally(() => this.inFlight--);
  }
}
