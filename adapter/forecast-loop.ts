/**
 * The forecast loop: for each workload, on its own refresh interval (with jitter), fetch the load
 * history with PromQL (incrementally after the first time), fit in a worker thread, and keep the
 * result. At most `concurrency` workloads refresh at once; one workload's failure is recorded on that
 * workload and never stops the others. The request path only ever reads what this loop stored.
 *
 * The backtest that chooses `auto`'s model and measures trust is the costly part of a fit (six more
 * fits). It runs at the refresh after a workload's first fit (so that a cold start makes every first
 * forecast before any backtest) and then hourly; a restarted adapter does not redo it: the
 * scores it exported (shadowscale_backtest_*) are read back from Prometheus once, and one computed
 * within the hour for the same settings (`spec`) is used until it is due.
 */
import { bucketEdgesQuery, sloBucket } from './slo-bucket.ts';
import { workloadKey, workloadTiming, type Config, type WorkloadConfig } from '../core/config.ts';
import { createHash } from 'node:crypto';

import { isTrusted } from '../core/planner/planner.ts';
import { riseHeadroomOf, volatilityOf } from '../core/planner/serving.ts';
import { LAG_RESCORE, type ModelName } from '../core/forecast/types.ts';
import type { FitPool } from './fit-pool.ts';
import type { FitJob } from './fit-worker.ts';
import { PrometheusQueryError, type PrometheusClient } from '../platform/prometheus.ts';
import { Counterfactual } from './counterfactual.ts';
import { rungOf, servedView, view, type ServedView, type ServingRung, type Attempt, type BacktestScore, type FittedForecast, type WorkloadSnapshot, type WorkloadView } from './serving.ts';

export interface LoopEvents {
  onQuery?(w: WorkloadConfig, seconds: number, error?: PrometheusQueryError | Error): void;
  onFit?(w: WorkloadConfig, seconds: number, error?: Error): void;
  /** A refresh kept the last forecast: nothing it is fitted on had changed. */
  onFitKept?(w: WorkloadConfig): void;
  log?(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

interface WorkloadState extends WorkloadSnapshot {
  key: string;
  timing: ReturnType<typeof workloadTiming>;
  /** Fit horizon in steps: the lag plus the longer of a refresh and the TTL, so the forecast still
   *  reaches one lag ahead for as long as it may be served. */
  fitHorizon: number;
  /**
   * The load's history at the step, in typed arrays: their samples live outside V8's heap, so its
   * young-generation collections on the request thread do not copy them (as number[] rebuilt at
   * every refresh, they were half of what those collections copied: bench/adapter.ts). The same
   * object until a refresh brings a changed sample.
   */
  history?: History;
  /** The hash of `history` (historyHash), computed once per history. */
  historyHash?: string;
  /** Unix ms of the last query that brought current data (the forecast's age counts from it). */
  dataAt?: number;
  chosenModel?: ModelName;
  /**
   * What the last forecast was fitted on (history and fit settings, hashed). A refresh that finds the
   * same keeps that forecast rather than fitting it again: the fit is deterministic, so it would be the same.
   */
  fittedOn?: string;
  scoreError?: string;
  nextRunAt: number;
  running: boolean;
  refreshes: number;
  lastFitSeconds?: number;
  /** When the latency SLO's bucket was last looked up (ms). */
  sloBucketCheckedAt?: number;
  /** The rung last logged (a change is logged once, with its reason). */
  loggedRung?: ServingRung;
}

/** How often a workload's backtest runs again. */
export const RESCORE_MS = 3_600_000;

/**
 * What a backtest score depends on, as a short hash: a score computed for other settings (after a
 * configuration change) is not read back.
 */
export function scoreSpec(config: Config, w: WorkloadConfig): string {
  const t = workloadTiming(config, w);
  const what = [w.model, config.adapter.autoCandidates ?? null, t.historySeconds, t.stepSeconds, w.provisioningLag, w.seasonality ?? null, w.load, LAG_RESCORE];
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 12);
}

/** Current-load queries in flight at once (adapter.observe). */
const OBSERVE_CONCURRENCY = 8;

/** Forecasts kept to find the one made a lag ago (a few refreshes' worth is enough). */
const PAST_FORECASTS = 16;
/** Samples refetched before the last one cached, for samples that arrived late. */
const OVERLAP_STEPS = 5;

export class ForecastLoop {
  private readonly states = new Map<string, WorkloadState>();
  private rungCheckedAt = 0;
  private readonly byNamespace = new Map<string, WorkloadConfig[]>();
  private running = 0;
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private stopping = false;
  private readonly waiters = new Set<() => void>();
  /** The scores read back from Prometheus, once, before the first fits. */
  private remembered?: Promise<void>;
  /** Workloads whose first fit used a score read back (no backtest then). */
  rememberedScores = 0;
  private observeTimer?: NodeJS.Timeout;
  /** The round of current-load queries under way, if one is. */
  private observing?: Promise<void>;

  constructor(
    private readonly config: Config,
    private readonly client: PrometheusClient,
    private readonly pool: FitPool,
    private readonly events: LoopEvents = {},
    private readonly now: () => number = Date.now,
    /** Workloads refreshed at once: adapter.concurrency, `auto` resolved by the caller. */
    private readonly concurrency: number,
  ) {
    for (const w of config.workloads) {
      const timing = workloadTiming(config, w);
      const key = workloadKey(w.namespace, w.name);
      const inNamespace = this.byNamespace.get(w.namespace) ?? [];
      inNamespace.push(w);
      this.byNamespace.set(w.namespace, inNamespace);
      this.states.set(key, {
        key,
        config: w,
        timing,
        lagSeconds: w.provisioningLag,
        fitHorizon: Math.ceil((w.provisioningLag + Math.max(timing.refreshSeconds, config.adapter.forecastTTL)) / timing.stepSeconds) + 1,
        pastForecasts: [],
        counterfactual: w.dryRun ? new Counterfactual({ capacityPerReplica: w.capacityPerReplica, lagSeconds: w.provisioningLag, minReplicas: w.primary.minReplicas, maxReplicas: w.primary.maxReplicas }) : undefined,
        trusted: false,
        nextRunAt: 0,
        running: false,
        refreshes: 0,
      });
    }
  }

  /**
   * Starts refreshing. Workloads already refreshed (by `refreshAll`) keep their next time; the others
   * are spread over a few seconds rather than started all at once.
   */
  start(): void {
    // A stop during the first round wins over the start that follows it.
    if (this.stopping) return;
    const observe = this.config.adapter.observe;
    if (observe !== 'off' && !this.observeTimer) {
      this.observeTimer = setInterval(() => void this.observeAll(), observe * 1000);
      this.observeTimer.unref();
    }
    this.stopped = false;
    const now = this.now();
    for (const s of this.states.values()) {
      if (!s.lastAttempt) s.nextRunAt = now + Math.random() * Math.min(5000, s.timing.refreshSeconds * 1000);
    }
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.observeTimer) clearInterval(this.observeTimer);
    await this.observing;
    while (this.running > 0) await new Promise<void>((r) => this.waiters.add(r));
  }

  /** Refreshes every workload once, `concurrency` at a time; for start-up, tests and benchmarks. */
  async refreshAll(): Promise<void> {
    const queue = [...this.states.values()];
    const workers = Array.from({ length: this.concurrency }, async () => {
      for (let s = queue.shift(); s && !this.stopping; s = queue.shift()) await this.refresh(s);
    });
    await Promise.all(workers);
  }

  /**
   * Reads every workload's current load once (`adapter.observe`), a few queries at a time; a round
   * still under way is not started again. A failed query changes nothing: the refresh reports
   * Prometheus' errors, and a load no longer read ages out with the TTL.
   */
  observeAll(): Promise<void> {
    this.observing ??= (async () => {
      const queue = [...this.states.values()];
      await Promise.all(
        Array.from({ length: OBSERVE_CONCURRENCY }, async () => {
          for (let s = queue.shift(); s && !this.stopping; s = queue.shift()) await this.observeOne(s);
        }),
      );
    })().finally(() => (this.observing = undefined));
    return this.observing;
  }

  private async observeOne(s: WorkloadState): Promise<void> {
    let result;
    try {
      result = await this.client.query(s.config.load, this.now() / 1000);
    } catch {
      return;
    }
    // No series: no data now. Several: the refresh says what is wrong with the query.
    if (result.length !== 1) return;
    const { value, timestamp } = result[0];
    if (Number.isFinite(value) && value >= 0 && !(s.observed && s.observed.at > timestamp)) {
      s.observed = { value, at: timestamp };
      this.recordCounterfactual(s);
    }
  }

  /** In dry-run, one more observation of what the HPA is asked against what the plan would ask. */
  private recordCounterfactual(s: WorkloadState): void {
    if (!s.counterfactual || !s.observed || !s.lastAttempt) return;
    const v = view(s, this.now(), this.config.adapter.forecastTTL);
    s.counterfactual.record(this.now() / 1000, s.observed.value, { hpa: v.served.predictedLoad, shadowscale: v.plan.predictedLoad });
  }

  /** The loop's clock, in unix seconds (the metrics read the counterfactual's window with it). */
  nowSeconds(): number {
    return this.now() / 1000;
  }

  /** True once every workload has been tried at least once. */
  get warm(): boolean {
    for (const s of this.states.values()) if (!s.lastAttempt) return false;
    return true;
  }

  /** False until the workload's first refresh was attempted: nothing to serve yet. */
  computed(namespace: string, name: string): boolean {
    return this.states.get(workloadKey(namespace, name))?.lastAttempt !== undefined;
  }

  workloads(): WorkloadConfig[] {
    return this.config.workloads;
  }

  /** The workloads of one namespace (the external metrics API asks per namespace). */
  workloadsIn(namespace: string): readonly WorkloadConfig[] {
    return this.byNamespace.get(namespace) ?? [];
  }

  /** One configured workload, by namespace and name. */
  workload(namespace: string, name: string): WorkloadConfig | undefined {
    return this.states.get(workloadKey(namespace, name))?.config;
  }

  snapshot(namespace: string, name: string): WorkloadSnapshot | undefined {
    return this.states.get(workloadKey(namespace, name));
  }

  /** The served view of one workload now. */
  view(namespace: string, name: string): WorkloadView | undefined {
    const s = this.states.get(workloadKey(namespace, name));
    return s ? view(s, this.now(), this.config.adapter.forecastTTL) : undefined;
  }

  /** What one workload is served now (the request path: no forecast bands). */
  served(namespace: string, name: string): ServedView | undefined {
    const s = this.states.get(workloadKey(namespace, name));
    return s ? servedView(s, this.now(), this.config.adapter.forecastTTL) : undefined;
  }

  /** Every workload with its view, for the metrics endpoint. */
  *all(): Generator<{ state: WorkloadSnapshot & { lastFitSeconds?: number; chosenModel?: ModelName; scoreError?: string }; view: WorkloadView }> {
    const now = this.now();
    for (const s of this.states.values()) yield { state: s, view: view(s, now, this.config.adapter.forecastTTL) };
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const now = this.now();
    let nextDue = Infinity;
    for (const s of this.states.values()) {
      if (this.running >= this.concurrency) break;
      if (s.running) continue;
      if (s.nextRunAt <= now) void this.refresh(s).finally(() => this.schedule());
      else nextDue = Math.min(nextDue, s.nextRunAt);
    }
    // The rung also changes with time alone (a forecast ages past the TTL while a refresh hangs).
    if (now - this.rungCheckedAt >= 1000) {
      this.rungCheckedAt = now;
      for (const s of this.states.values()) if (s.lastAttempt) this.logRung(s);
    }
    const delay = this.running >= this.concurrency ? 1000 : Math.max(10, Math.min(1000, nextDue - now));
    this.timer = setTimeout(() => this.schedule(), delay);
    this.timer.unref();
  }

  private async refresh(s: WorkloadState): Promise<void> {
    if (s.running) return;
    s.running = true;
    this.running++;
    try {
      await this.refreshOnce(s);
    } finally {
      s.running = false;
      this.running--;
      const jitter = 1 + this.config.adapter.jitter * Math.random();
      s.nextRunAt = this.now() + s.timing.refreshSeconds * 1000 * jitter;
      s.refreshes++;
      if (this.running === 0) {
        for (const wake of this.waiters) wake();
        this.waiters.clear();
      }
    }
  }

  /** How late the plan may see the load: every `adapter.observe`, else every refresh. */
  private seenEvery(s: WorkloadState): number {
    const observe = this.config.adapter.observe;
    return observe === 'off' ? s.timing.refreshSeconds : observe;
  }

  /** The settings a workload's backtest score depends on (exported with the score). */
  scoreSpec(w: WorkloadConfig): string {
    return scoreSpec(this.config, w);
  }

  /**
   * The backtest scores an earlier adapter exported within the hour, for the same settings: each one
   * is used as this workload's score until it is due (so a restart does not run a thousand backtests
   * at once). Prometheus not answering only means every workload is scored afresh.
   */
  private async rememberScores(): Promise<void> {
    const window = `${RESCORE_MS / 1000}s`;
    let stamps, errors;
    try {
      [stamps, errors] = await Promise.all([
        this.client.query(`last_over_time(shadowscale_backtest_timestamp_seconds[${window}])`),
        this.client.query(`last_over_time(shadowscale_backtest_error[${window}])`),
      ]);
    } catch (error) {
      this.events.log?.('info', `backtest scores not read back from Prometheus (every workload is scored afresh): ${(error as Error).message}`);
      return;
    }
    const now = this.now();
    let used = 0;
    // The error series of the same target (an adapter replica) as the stamp: all labels but their own.
    const sameTarget = (labels: Record<string, string>, drop: string[]) =>
      JSON.stringify(Object.entries(labels).filter(([k]) => k !== '__name__' && !drop.includes(k)).sort(([a], [b]) => a.localeCompare(b)));
    for (const stamp of stamps) {
      const { namespace, workload, model, folds, spec } = stamp.labels;
      const s = this.states.get(workloadKey(namespace ?? '', workload ?? ''));
      if (!s || s.score || spec !== scoreSpec(this.config, s.config)) continue;
      if (s.config.model !== 'auto' && model !== s.config.model) continue;
      const at = stamp.value * 1000;
      if (!(now - at < RESCORE_MS && at <= now)) continue;
      const target = sameTarget(stamp.labels, ['model', 'folds', 'spec']);
      const metric = (name: string) => errors.find((e) => e.labels.metric === name && sameTarget(e.labels, ['metric']) === target)?.value;
      const [mae, relMae, coverage80, coverage95] = ['mae', 'relative_mae', 'coverage80', 'coverage95'].map(metric);
      if (mae === undefined || coverage80 === undefined || coverage95 === undefined) continue;
      s.score = { mae, relMae: relMae ?? null, coverage80, coverage95, folds: Number(folds) || 0, at };
      s.chosenModel = model as ModelName;
      s.trusted = isTrusted(s.score);
      used++;
    }
    this.rememberedScores = used;
    if (used > 0) this.events.log?.('info', `backtest scores of ${used} workloads read back from Prometheus; they are scored again when due`);
  }

  private async refreshOnce(s: WorkloadState): Promise<void> {
    this.remembered ??= this.rememberScores();
    await this.remembered;
    const { stepSeconds, historySeconds } = s.timing;
    const w = s.config;
    const end = Math.floor(this.now() / 1000 / stepSeconds) * stepSeconds;
    const start = end - historySeconds;

    // 1. History, incrementally after the first successful fetch.
    const queryStarted = performance.now();
    let current = false;
    try {
      const cachedLast = s.history?.timestamps[s.history.timestamps.length - 1];
      const newestBefore = cachedLast ?? -Infinity;
      const from = cachedLast !== undefined && cachedLast >= start ? cachedLast - OVERLAP_STEPS * stepSeconds : start;
      const result = await this.client.queryRange(w.load, from, end, stepSeconds);
      if (result.length > 1) {
        throw new Error(`load query returned ${result.length} series; aggregate it to one (e.g. sum(...))`);
      }
      const fresh = result[0] ?? { timestamps: [], values: [] };
      const merged = mergeHistory(s.history, fresh, from, start);
      if (merged !== s.history) {
        s.history = merged;
        s.historyHash = undefined;
      }
      if (s.history.timestamps.length === 0) {
        throw new Error(`load query returned no samples between ${new Date(start * 1000).toISOString()} and ${new Date(end * 1000).toISOString()}`);
      }
      const lastIndex = s.history.timestamps.length - 1;
      const lastValue = s.history.values[lastIndex];
      // Current data: newer samples than before, or samples up to the last two steps. An answer with
      // nothing new (a Prometheus back without its data, an empty result) leaves the data's age as it was.
      const newest = s.history.timestamps[lastIndex];
      current = newest > newestBefore || newest >= end - 2 * stepSeconds;
      if (current) s.dataAt = this.now();
      // A current load read since (adapter.observe) is newer than the history's last step.
      if (Number.isFinite(lastValue) && lastValue >= 0 && !(s.observed && s.observed.at > newest)) s.observed = { value: lastValue, at: newest };
      s.lagVolatility = volatilityOf(s.history, stepSeconds, s.lagSeconds);
      s.riseHeadroom = riseHeadroomOf(s.history, stepSeconds, s.lagSeconds + this.seenEvery(s), w.headroomQuantile);
      this.events.onQuery?.(w, (performance.now() - queryStarted) / 1000);
    } catch (error) {
      this.events.onQuery?.(w, (performance.now() - queryStarted) / 1000, error as Error);
      this.fail(s, 'query', error);
      return;
    }

    // 2. Fit in a worker; rescore (choose for `auto`, measure trust) at the refresh after the first fit
    // (unless a score was read back) and then hourly. The first fit is not backtested: every workload
    // gets a forecast before any backtest runs (a cold start of a thousand workloads waits for the fits
    // alone, not six more fits each), and is served untrusted, with `auto`'s first candidate, until its
    // backtest a refresh later. Likewise after a failed refresh (Prometheus back from an outage): the
    // forecast is made current first, and a backtest that fell due waits for the next refresh.
    //
    // A load sampled at a step longer than the refresh (5 minutes against 1 by default) brings a new
    // sample at one refresh in several: at the others, when neither the history (late samples included)
    // nor the fit's settings changed and no backtest is due, the last forecast is kept as it is, and
    // counts as fitted on data that is current now, as a refit would.
    const fitStarted = performance.now();
    const rescore = s.forecast !== undefined && s.lastAttempt?.ok === true && (!s.score || this.now() - s.score.at >= RESCORE_MS);
    const history = s.history;
    // The job's arrays are copies, made only when it runs: they are handed over to the worker.
    const job: Omit<FitJob, 'timestamps' | 'values'> = {
      stepSeconds,
      horizon: s.fitHorizon,
      model: w.model,
      chosenModel: s.chosenModel,
      rescore,
      autoCandidates: this.config.adapter.autoCandidates,
      maxHistory: Math.round(historySeconds / stepSeconds),
      scoreHorizon: Math.max(1, Math.ceil(w.provisioningLag / stepSeconds)),
      ...(w.seasonality ? { periods: w.seasonality.map((p) => Math.round(p / stepSeconds)) } : {}),
    };
    const data = (s.historyHash ??= historyHash(history));
    if (!rescore && s.forecast && s.fittedOn === fitInputKey(data, job, s.chosenModel)) {
      const at = this.now();
      s.forecast = { ...s.forecast, freshAt: current ? at : (s.dataAt ?? s.forecast.freshAt ?? s.forecast.fittedAt) };
      s.lastAttempt = { at, ok: true } satisfies Attempt;
      this.logRung(s);
      if (this.config.adapter.observe === 'off') this.recordCounterfactual(s);
      this.events.onFitKept?.(w);
      await this.findSloBucket(s);
      await this.findServingSet(s);
      return;
    }
    try {
      const outcome = await this.pool.run({ ...job, timestamps: history.timestamps.slice(), values: history.values.slice() });
      const fittedAt = this.now();
      s.fittedOn = fitInputKey(data, job, outcome.chosenModel);
      if (s.forecast) s.pastForecasts = [s.forecast, ...s.pastForecasts].slice(0, PAST_FORECASTS);
      s.forecast = { forecast: outcome.forecast, fittedAt, freshAt: current ? fittedAt : (s.dataAt ?? fittedAt), model: outcome.chosenModel } satisfies FittedForecast;
      s.chosenModel = outcome.chosenModel;
      if (outcome.score) {
        s.score = { ...outcome.score, at: fittedAt } satisfies BacktestScore;
        s.scoreError = undefined;
      } else if (rescore) {
        // Too little history to backtest: the forecast is served, untrusted, and scored again next time.
        s.score = undefined;
        s.scoreError = outcome.scoreError;
      }
      s.trusted = isTrusted(s.score);
      s.lastFitSeconds = outcome.fitMs / 1000;
      s.lastAttempt = { at: fittedAt, ok: true } satisfies Attempt;
      // Told when it happens, not after the queries that follow the fit (the rung is served already).
      this.logRung(s);
      // Without adapter.observe, the counterfactual is observed at each refresh.
      if (this.config.adapter.observe === 'off') this.recordCounterfactual(s);
      this.events.onFit?.(w, (performance.now() - fitStarted) / 1000);
    } catch (error) {
      this.events.onFit?.(w, (performance.now() - fitStarted) / 1000, error as Error);
      this.fail(s, 'fit', error);
    }
    await this.findSloBucket(s);
    await this.findServingSet(s);
  }

  /**
   * Which Deployment serves now (the role series the rules join, from the receiver's memory), so that
   * the replicas served are counted in that set's pods. A failed or empty answer keeps the last one.
   */
  private async findServingSet(s: WorkloadState): Promise<void> {
    const w = s.config;
    if (!w.shadow) return;
    try {
      const roles = await this.client.query(`shadowscale:deployment_role:info{namespace=${JSON.stringify(w.namespace)}, workload=${JSON.stringify(w.name)}, role="primary"}`);
      const serving = roles[0]?.labels.deployment;
      if (serving !== undefined) s.servingPodSize = serving === w.shadow.name ? w.shadow.resourceFraction : 1;
    } catch (error) {
      this.events.log?.('info', `workload ${s.key}: serving set not read: ${(error as Error).message}`, { workload: w.name, namespace: w.namespace });
    }
  }

  /**
   * The bucket whose edge is the latency SLO, for the rules' slow-request share: read after the
   * fit, every 10 minutes once buckets are seen (they change only with the histogram or the SLO); a
   * failed query keeps the last answer.
   */
  private async findSloBucket(s: WorkloadState): Promise<void> {
    if (s.sloBucketCheckedAt !== undefined && this.now() - s.sloBucketCheckedAt < 600_000) return;
    const w = s.config;
    try {
      const deployments = [w.primary.name, ...(w.shadow ? [w.shadow.name] : [])];
      const edges = await this.client.query(bucketEdgesQuery(w.namespace, deployments));
      s.latencySloBucket = sloBucket(edges.map((e) => ({ le: e.labels.le ?? '', leUnit: e.labels.le_unit })), w.slo.latencyP99);
      // No buckets yet (no traffic, rules not loaded): asked again at the next refresh.
      if (edges.length > 0) s.sloBucketCheckedAt = this.now();
    } catch (error) {
      this.events.log?.('info', `workload ${s.key}: latency buckets not read: ${(error as Error).message}`, { workload: w.name, namespace: w.namespace });
    }
  }

  private fail(s: WorkloadState, stage: 'query' | 'fit', error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    // A failure is logged when it starts or changes, not at every refresh of an outage.
    const repeated = s.lastAttempt?.ok === false && s.lastAttempt.stage === stage && s.lastAttempt.error === message;
    s.lastAttempt = { at: this.now(), ok: false, stage, error: message };
    this.events.log?.(repeated ? 'debug' : 'warn', `workload ${s.key}: ${stage} failed: ${message}`, { workload: s.config.name, namespace: s.config.namespace, stage });
    this.logRung(s);
  }

  /** Logs the rung served when it changes, with why (the metric shadowscale_serving_rung says it too). */
  private logRung(s: WorkloadState): void {
    // The rung alone (checked every second for every workload), not the whole view.
    const v = rungOf(s, this.now(), this.config.adapter.forecastTTL);
    if (v.rung === s.loggedRung) return;
    const ttl = this.config.adapter.forecastTTL;
    const age = v.forecastAgeSeconds === undefined ? undefined : Math.round(v.forecastAgeSeconds);
    const failed = s.lastAttempt?.ok === false ? `the last refresh failed (${s.lastAttempt.stage}: ${s.lastAttempt.error})` : undefined;
    const reason =
      v.rung === 'fresh'
        ? 'forecast fitted on current data'
        : v.rung === 'stale'
          ? `${failed ?? 'the last refresh failed'}; serving the last forecast (${age} s old, within the ${ttl} s TTL)`
          : v.rung === 'reactive'
            ? `${age === undefined ? 'no forecast' : `the forecast is ${age} s old, past the ${ttl} s TTL`}; serving the observed load${failed ? `; ${failed}` : ''}`
            : `no forecast within the ${ttl} s TTL and no observed load; serving minReplicas × capacityPerReplica${failed ? `; ${failed}` : ''}`;
    this.events.log?.(v.rung === 'fresh' ? 'info' : 'warn', `workload ${s.key}: serving ${v.rung}${s.loggedRung ? ` (was ${s.loggedRung})` : ''}: ${reason}`, { workload: s.config.name, namespace: s.config.namespace, rung: v.rung, previousRung: s.loggedRung ?? null });
    s.loggedRung = v.rung;
  }
}

/** A hash of the history a fit is given. */
function historyHash({ timestamps, values }: History): string {
  return createHash('sha256')
    .update(new Uint8Array(timestamps.buffer, timestamps.byteOffset, timestamps.byteLength))
    .update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
    .digest('base64');
}

/**
 * Everything a forecast depends on: the history (hashed), the fit's settings and the model it is made
 * with (`auto`'s choice), not whether a backtest ran with it.
 */
function fitInputKey(history: string, job: Omit<FitJob, 'timestamps' | 'values'>, model: ModelName | undefined): string {
  const { rescore: _r, chosenModel: _c, ...settings } = job;
  return `${history} ${model ?? ''} ${JSON.stringify(settings)}`;
}

interface History {
  timestamps: Float64Array;
  values: Float64Array;
}

/**
 * Replaces cached samples from `from` on with the fetched ones and drops those before `start`; the
 * cached history itself when that changes nothing (most refreshes of a load sampled at a step longer
 * than the refresh), so that nothing is allocated then.
 */
export function mergeHistory(cached: History | undefined, fetched: { timestamps: readonly number[]; values: readonly number[] }, from: number, start: number): History {
  let kept = 0;
  let firstKept = 0;
  if (cached) {
    for (let i = 0; i < cached.timestamps.length; i++) {
      const t = cached.timestamps[i];
      if (t >= start && t < from) {
        if (kept === 0) firstKept = i;
        kept++;
      }
    }
  }
  let added = 0;
  for (const t of fetched.timestamps) if (t >= start) added++;
  const length = kept + added;
  // Kept samples are contiguous (the cache is sorted); compare the fetched ones with what follows them.
  if (cached && cached.timestamps.length === length && (kept === 0 || firstKept === 0)) {
    let same = true;
    for (let i = 0, j = kept; i < fetched.timestamps.length && same; i++) {
      if (fetched.timestamps[i] < start) continue;
      same = Object.is(cached.timestamps[j], fetched.timestamps[i]) && Object.is(cached.values[j], fetched.values[i]);
      j++;
    }
    if (same) return cached;
  }
  const timestamps = new Float64Array(length);
  const values = new Float64Array(length);
  if (cached && kept > 0) {
    timestamps.set(cached.timestamps.subarray(firstKept, firstKept + kept));
    values.set(cached.values.subarray(firstKept, firstKept + kept));
  }
  for (let i = 0, j = kept; i < fetched.timestamps.length; i++) {
    if (fetched.timestamps[i] < start) continue;
    timestamps[j] = fetched.timestamps[i];
    values[j] = fetched.values[i];
    j++;
  }
  return { timestamps, values };
}
