/**
 * What the receiver reads from Prometheus when it decides: the shadow's readiness KPI (the promotion
 * gate) and the planner's numbers, which the adapter exports (`shadowscale_forecast_desired_replicas`,
 * `shadowscale_shadow_pool_size`).
 *
 * The workloads whose signal is wanted within a few milliseconds of each other are read by one query
 * (`max by (namespace, workload) (metric{namespace=~…, workload=~…})`), and each answer is kept for a
 * short while (`maxAgeMs`, 2 s): a burst of webhooks costs Prometheus a few small queries instead of two
 * per workload, the signals read while a webhook is recorded serve its reconciliation, and a webhook on
 * its own costs one query as small as before. The answers are already as old as the rule evaluation
 * and the scrape behind them (15-60 s), so two seconds more change nothing a decision depends on. A
 * failed read is never answered from an older copy: its callers get the error, as from their own query.
 */
import type { WorkloadConfig } from '../core/config.ts';
import type { PlanSnapshot } from '../core/promotion/promotion.ts';
import { matchingExactly, type PrometheusClient } from '../platform/prometheus.ts';

export interface SignalSource {
  /** 1 from `shadowscale:shadow_ready:bool`; false when absent. Throws when Prometheus cannot answer. */
  shadowReady(w: WorkloadConfig, signal?: AbortSignal): Promise<boolean>;
  /** The adapter's current plan, or undefined when it exports none for the workload. */
  plan(w: WorkloadConfig, signal?: AbortSignal): Promise<PlanSnapshot | undefined>;
}

export interface SignalOptions {
  /** How long a workload's signal, once read, answers later calls (ms; default 2,000; 0 reads every time). */
  maxAgeMs?: number;
  now?: () => number;
}

const key = (namespace: string, workload: string) => `${namespace}/${workload}`;
/** Workloads per query: keeps the PromQL small whatever the burst. */
const MAX_BATCH = 100;
/** How long a read waits for others to join it. */
const BATCH_WINDOW_MS = 3;

type Answer = Map<string, number>;

/** One signal, read for the workloads wanted at once, and kept per workload while it is young enough. */
class BatchedReading {
  private readonly kept = new Map<string, { at: number; value: number | undefined }>();
  /** Reads under way, by workload. */
  private readonly inFlight = new Map<string, Promise<Answer>>();
  private pending?: { keys: Map<string, { namespace: string; workload: string }>; answer: Promise<Answer>; send: () => void };

  constructor(
    private readonly client: Pick<PrometheusClient, 'query'>,
    private readonly metric: string,
    private readonly maxAgeMs: number,
    private readonly now: () => number,
  ) {}

  async value(namespace: string, workload: string, signal?: AbortSignal): Promise<number | undefined> {
    const k = key(namespace, workload);
    const kept = this.kept.get(k);
    if (kept && this.now() - kept.at <= this.maxAgeMs) return kept.value;
    const answer = this.inFlight.get(k) ?? this.enqueue(k, namespace, workload);
    return (await abortable(answer, signal)).get(k);
  }

  private enqueue(k: string, namespace: string, workload: string): Promise<Answer> {
    if (!this.pending || this.pending.keys.size >= MAX_BATCH) {
      let send!: () => void;
      const keys = new Map<string, { namespace: string; workload: string }>();
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

  private async read(keys: Map<string, { namespace: string; workload: string }>): Promise<Answer> {
    const at = this.now();
    const wanted = [...keys.values()];
    const query = `max by (namespace, workload) (${this.metric}{namespace=~${matchingExactly(wanted.map((w) => w.namespace))},workload=~${matchingExactly(wanted.map((w) => w.workload))}})`;
    const answer: Answer = new Map();
    for (const s of await this.client.query(query)) {
      if (s.labels.namespace !== undefined && s.labels.workload !== undefined) answer.set(key(s.labels.namespace, s.labels.workload), s.value);
    }
    // Absent is an answer too (no plan exported, readiness unknown): kept like a value.
    for (const k of keys.keys()) {
      const kept = this.kept.get(k);
      if (!kept || kept.at <= at) this.kept.set(k, { at, value: answer.get(k) });
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

export class PrometheusSignals implements SignalSource {
  private readonly ready: BatchedReading;
  private readonly desired: BatchedReading;
  private readonly pool: BatchedReading;

  constructor(client: Pick<PrometheusClient, 'query'>, options: SignalOptions = {}) {
    const maxAge = options.maxAgeMs ?? 2000;
    const now = options.now ?? Date.now;
    // Every adapter replica exports the same plan; max() collapses them.
    this.ready = new BatchedReading(client, 'shadowscale:shadow_ready:bool', maxAge, now);
    this.desired = new BatchedReading(client, 'shadowscale_forecast_desired_replicas', maxAge, now);
    this.pool = new BatchedReading(client, 'shadowscale_shadow_pool_size', maxAge, now);
  }

  async shadowReady(w: WorkloadConfig, signal?: AbortSignal): Promise<boolean> {
    return (await this.ready.value(w.namespace, w.name, signal)) === 1;
  }

  async plan(w: WorkloadConfig, signal?: AbortSignal): Promise<PlanSnapshot | undefined> {
    const [d, p] = await Promise.all([this.desired.value(w.namespace, w.name, signal), this.pool.value(w.namespace, w.name, signal)]);
    if (d === undefined || p === undefined || !Number.isFinite(d) || !Number.isFinite(p)) return undefined;
    return { desiredReplicas: d, shadowPoolSize: p };
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
