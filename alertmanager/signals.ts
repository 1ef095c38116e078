/**
 * What the receiver reads from Prometheus when it decides: the shadow's readiness KPI (the promotion
 * gate) and the planner's numbers, which the adapter exports (`shadowscale_forecast_desired_replicas`,
 * `shadowscale_shadow_pool_size`).
 *
 * While the receiver leads, every configured workload's signals are read every `refreshMs` (5 s by
 * default; one query per signal for the whole fleet, `max by (namespace, workload) (metric{namespace=~…})`)
 * and kept for two refreshes: a webhook's reconciliation finds them and does not wait for Prometheus,
 * whose instant queries take 3-4 ms at best and 12-16 ms at p99 even when idle. The answers are already
 * as old as the rule evaluation and the scrape behind them (15-60 s), so a few seconds more change
 * nothing a decision depends on.
 *
 * A signal not kept (refresh off, a workload the last refresh did not reach, or a refresh that failed)
 * is read when wanted: the workloads wanted within a few milliseconds of each other in one query
 * (`max by (namespace, workload) (metric{namespace=~…, workload=~…})`), kept `maxAgeMs` (2 s). A failed
 * read is never answered from a copy older than that: its callers get the error, as from their own query.
 */
import type { WorkloadConfig } from '../core/config.ts';
import type { PlanSnapshot } from '../core/promotion/promotion.ts';
import { matchingExactly, type PrometheusClient } from '../platform/prometheus.ts';

export interface SignalSource {
  /** 1 from `shadowscale:shadow_ready:bool`; false when absent. Throws when Prometheus cannot answer. */
  shadowReady(w: WorkloadConfig, signal?: AbortSignal): Promise<boolean>;
  /** The adapter's current plan, or undefined when it exports none for the workload. */
  plan(w: WorkloadConfig, signal?: AbortSignal): Promise<PlanSnapshot | undefined>;
  /**
   * The load the adapter observes now and the load it plans for over the provisioning lag
   * (`shadowscale_observed_load`, `shadowscale_predicted_load`), for spill-over; undefined when it
   * exports neither. Absent: this source cannot say (no spill-over).
   */
  loads?(w: WorkloadConfig, signal?: AbortSignal): Promise<{ observed?: number; predicted?: number } | undefined>;
}

export interface SignalOptions {
  /** How long a workload's signal, once read on demand, answers later calls (ms; default 2,000; 0 reads every time). */
  maxAgeMs?: number;
  now?: () => number;
}

type Wanted = { namespace: string; workload: string };

const key = (namespace: string, workload: string) => `${namespace}/${workload}`;
/** Workloads per query: keeps the PromQL small whatever the burst. */
const MAX_BATCH = 100;
/** How long a read waits for others to join it. */
const BATCH_WINDOW_MS = 3;

type Answer = Map<string, number>;

/** One signal, read for the workloads wanted at once, and kept per workload while it is young enough. */
class BatchedReading {
  /** Each workload's last answer: when its query started, and until when it answers (ms). */
  private readonly kept = new Map<string, { at: number; until: number; value: number | undefined }>();
  /** Reads under way, by workload. */
  private readonly inFlight = new Map<string, Promise<Answer>>();
  private pending?: { keys: Map<string, Wanted>; answer: Promise<Answer>; send: () => void };

  constructor(
    private readonly client: Pick<PrometheusClient, 'query'>,
    private readonly metric: string,
    private readonly maxAgeMs: number,
    private readonly now: () => number,
  ) {}

  async value(namespace: string, workload: string, signal?: AbortSignal): Promise<number | undefined> {
    const k = key(namespace, workload);
    const kept = this.kept.get(k);
    if (kept && this.now() <= kept.until) return kept.value;
    const answer = this.inFlight.get(k) ?? this.enqueue(k, namespace, workload);
    return (await abortable(answer, signal)).get(k);
  }

  private enqueue(k: string, namespace: string, workload: string): Promise<Answer> {
    if (!this.pending || this.pending.keys.size >= MAX_BATCH) {
      let send!: () => void;
      const keys = new Map<string, Wanted>();
      const answer = new Promise<void>((resolve) => (send = resolve)).then(() => this.read(keys));
      const clear = () => {
        for (const k of keys.keys()) if (this.inFlight.get(k) === answer) this.inFlight.delete(k);
      };
      answer.then(clear, clear);
      const batch = { keys, answer, send };
      this.pending = batch;
      // Sent BATCH_WINDOW_MS later: the webhooks of the same flush, arriving over a few turns of the
      // event loop, join it. (The read starts while the webhook is recorded, so the wait is hidden.)
      setTimeout(() => {
        if (this.pending === batch) this.pending = undefined;
        batch.send();
      }, BATCH_WINDOW_MS);
    }
    this.pending.keys.set(k, { namespace, workload });
    this.inFlight.set(k, this.pending.answer);
    return this.pending.answer;
  }

  private async read(keys: Map<string, Wanted>): Promise<Answer> {
    const wanted = [...keys.values()];
    return this.keep(keys, `workload=~${matchingExactly(wanted.map((w) => w.workload))}`, this.maxAgeMs);
  }

  /**
   * Reads the signal of every workload in `keys` in one query (by namespace only: the fleet's workload
   * names would make a long regular expression) and keeps each answer for `keepMs`.
   */
  async readAll(keys: Map<string, Wanted>, keepMs: number): Promise<void> {
    if (keys.size > 0) await this.keep(keys, undefined, keepMs);
  }

  private async keep(keys: Map<string, Wanted>, workloadMatcher: string | undefined, keepMs: number): Promise<Answer> {
    const at = this.now();
    const namespaces = `namespace=~${matchingExactly([...keys.values()].map((w) => w.namespace))}`;
    const query = `max by (namespace, workload) (${this.metric}{${workloadMatcher ? `${namespaces},${workloadMatcher}` : namespaces}})`;
    const answer: Answer = new Map();
    for (const s of await this.client.query(query)) {
      if (s.labels.namespace !== undefined && s.labels.workload !== undefined) answer.set(key(s.labels.namespace, s.labels.workload), s.value);
    }
    // Absent is an answer too (no plan exported, readiness unknown): kept like a value. A newer answer
    // is never replaced by an older one.
    for (const k of keys.keys()) {
      const kept = this.kept.get(k);
      if (!kept || kept.at <= at) this.kept.set(k, { at, until: at + keepMs, value: answer.get(k) });
    }
    return answer;
  }
}

function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export interface RefreshOptions {
  /** Milliseconds between two reads of the fleet's signals. */
  refreshMs: number;
  /** Read only while this says so (the leader's receiver). */
  active?: () => boolean;
  /** Told when a refresh fails (the signals are then read when wanted, as without refresh). */
  onError?: (error: Error) => void;
  /** Told when a refresh succeeds (after failures: the fleet's signals are kept again). */
  onSuccess?: () => void;
  /** Read the observed and predicted loads too (spill-over on). */
  loads?: boolean;
}

export class PrometheusSignals implements SignalSource {
  private readonly ready: BatchedReading;
  private readonly desired: BatchedReading;
  private readonly pool: BatchedReading;
  private readonly observedLoad: BatchedReading;
  private readonly predictedLoad: BatchedReading;
  private refreshTimer?: NodeJS.Timeout;
  private refreshing = false;

  constructor(client: Pick<PrometheusClient, 'query'>, options: SignalOptions = {}) {
    const maxAge = options.maxAgeMs ?? 2000;
    const now = options.now ?? Date.now;
    // Every adapter replica exports the same plan; max() collapses them.
    this.ready = new BatchedReading(client, 'shadowscale:shadow_ready:bool', maxAge, now);
    this.desired = new BatchedReading(client, 'shadowscale_forecast_desired_replicas', maxAge, now);
    this.pool = new BatchedReading(client, 'shadowscale_shadow_pool_size', maxAge, now);
    this.observedLoad = new BatchedReading(client, 'shadowscale_observed_load', maxAge, now);
    this.predictedLoad = new BatchedReading(client, 'shadowscale_predicted_load', maxAge, now);
  }

  /**
   * Reads the signals of `workloads` (those with shadows) now and every `refreshMs`, each kept for two
   * refreshes; a refresh still running when the next is due makes that one skip.
   */
  startRefresh(workloads: readonly WorkloadConfig[], options: RefreshOptions): void {
    this.stopRefresh();
    const keys = new Map<string, Wanted>();
    for (const w of workloads) if (w.shadow) keys.set(key(w.namespace, w.name), { namespace: w.namespace, workload: w.name });
    if (keys.size === 0) return;
    const keepMs = 2 * options.refreshMs;
    const loads = options.loads ?? false;
    const tick = () => {
      this.refreshTimer = setTimeout(tick, options.refreshMs);
      this.refreshTimer.unref?.();
      if (this.refreshing || !(options.active?.() ?? true)) return;
      this.refreshing = true;
      void this.refreshAll(keys, keepMs, loads)
        .then(() => options.onSuccess?.(), (error: Error) => options.onError?.(error))
        .finally(() => (this.refreshing = false));
    };
    tick();
  }

  /** Reads every signal of `keys` once (the queries at once; the loads too when spill-over wants them) and keeps the answers for `keepMs`. */
  private async refreshAll(keys: Map<string, Wanted>, keepMs: number, loads: boolean): Promise<void> {
    const readings = loads ? [this.ready, this.desired, this.pool, this.observedLoad, this.predictedLoad] : [this.ready, this.desired, this.pool];
    const results = await Promise.allSettled(readings.map((r) => r.readAll(keys, keepMs)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  stopRefresh(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  async shadowReady(w: WorkloadConfig, signal?: AbortSignal): Promise<boolean> {
    return (await this.ready.value(w.namespace, w.name, signal)) === 1;
  }

  async plan(w: WorkloadConfig, signal?: AbortSignal): Promise<PlanSnapshot | undefined> {
    const [d, p] = await Promise.all([this.desired.value(w.namespace, w.name, signal), this.pool.value(w.namespace, w.name, signal)]);
    if (d === undefined || p === undefined || !Number.isFinite(d) || !Number.isFinite(p)) return undefined;
    return { desiredReplicas: d, shadowPoolSize: p };
  }

  async loads(w: WorkloadConfig, signal?: AbortSignal): Promise<{ observed?: number; predicted?: number } | undefined> {
    const [observed, predicted] = await Promise.all([this.observedLoad.value(w.namespace, w.name, signal), this.predictedLoad.value(w.namespace, w.name, signal)]);
    const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : undefined);
    if (finite(observed) === undefined && finite(predicted) === undefined) return undefined;
    return { observed: finite(observed), predicted: finite(predicted) };
  }

  /**
   * Does the adapter's plan ask for more replicas than the primary has (a rise within the forecast
   * horizon)? undefined when it exports no plan for the workload.
   */
  async riseExpected(namespace: string, workload: string, replicas: number, signal?: AbortSignal): Promise<boolean | undefined> {
    const d = await this.desired.value(namespace, workload, signal);
    return d === undefined || !Number.isFinite(d) ? undefined : d > replicas;
  }
}
