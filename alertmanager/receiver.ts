/**
 * The receiver's heart: record what Alertmanager says (the intent), then reconcile each workload to the
 * desired state computed from it (core/promotion). Work on one workload is serialised; a webhook is
 * answered once its alerts are durably recorded, and the cluster is reconciled right after, then again
 * at every resync (cooldowns expire, shadows become ready, someone edits the cluster by hand).
 */
import { workloadKey, type Config, type ReceiverConfig, type WorkloadConfig } from '../core/config.ts';
import { AlertLimitError, decide, nextStep, recordAlerts, recordMove, type DesiredState, type Limits, type PlanSnapshot, type WorkloadMemory } from '../core/promotion/promotion.ts';
import { decideSpill, NO_SPILL, type SpillSpec } from '../core/promotion/spill.ts';
import type { Audit } from './audit.ts';
import type { ReceiverMetrics, ServingShare } from './metrics.ts';
import { routeAlerts, type WebhookPayload } from './payload.ts';
import type { SignalSource } from './signals.ts';
import { MemoryConflict, type MemoryStore } from './store.ts';
import { NotLeader, StaleObservation, type WorkloadCluster } from '../actuators/target.ts';

export interface ReceiverDeps {
  config: Config;
  receiver: ReceiverConfig;
  store: MemoryStore;
  signals: SignalSource;
  cluster: (w: WorkloadConfig) => WorkloadCluster;
  audit: Audit;
  metrics: ReceiverMetrics;
  now?: () => number;
  /** Only the leader reconciles (leader election); default: always. */
  isLeader?: () => boolean;
}

export interface AcceptResult {
  /** Alert notifications that changed some workload's memory. */
  recorded: number;
  /** Alerts for workloads not in the configuration, or without the labels to place them. */
  skipped: Array<{ fingerprint: string; why: string }>;
  workloads: string[];
}

/** Steps per reconciliation; a swap needs five, the rest is a guard against a cluster that fights back. */
const MAX_STEPS = 12;
/** When a step must wait (replicas not ready yet), look again this soon instead of at the next resync. */
const WAIT_RETRY_MS = 1000;
/** How old the observation made at the start of a reconciliation may be when its first step is chosen. */
const FIRST_OBSERVATION_MAX_AGE_MS = 1000;
/** How long a reconciliation past its first step lets other webhooks' first writes go first, at most. */
const FIRST_WRITES_WAIT_MS = 250;
/** Workloads reconciled at once by the periodic resync. */
const RESYNC_CONCURRENCY = 8;


export { NotLeader } from '../actuators/target.ts';

/** Whether a workload's traffic can be split for spill-over: an HTTPRoute's or a VirtualService's weights, or the local target's proxy. */
export function canSplit(w: WorkloadConfig, target: string): boolean {
  return !!w.shadow && (w.router?.kind === 'HTTPRoute' || w.router?.kind === 'VirtualService' || target === 'local');
}

export class Receiver {
  private readonly workloads = new Map<string, WorkloadConfig>();
  /** Per workload: its reconciliation and warm-pool passes, one at a time (they may wait on Prometheus and the API). */
  private readonly locks = new Map<string, Promise<unknown>>();
  /**
   * Per workload: its memory, read-modify-written one at a time, held only for that (never across a
   * query): a webhook is recorded, and answered, while a reconciliation waits on Prometheus.
   */
  private readonly memoryLocks = new Map<string, Promise<unknown>>();
  /** A reconciliation queued on a workload and not started yet, which later calls join. */
  private readonly waitingReconciles = new Map<string, Promise<void>>();
  /** Per workload, the webhook-driven reconciliations that have not made their first write yet. */
  private readonly awaitingFirstWrite = new Map<string, number>();
  private firstWriteWaiters: Array<() => void> = [];
  private readonly clusters = new Map<string, WorkloadCluster>();
  private readonly lastDesired = new Map<string, DesiredState>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly lastWait = new Map<string, string>();
  /** Last observation of each workload's standby set, for its cost. */
  private readonly lastStandby = new Map<string, { at: number; replicas: number }>();
  /** Which set serves each workload, as remembered (WorkloadMemory.serving), once read. */
  private readonly serving = new Map<string, string>();
  /** The share of live traffic each workload's route is to send to its standby (WorkloadMemory.spill), once read. */
  private readonly spillShares = new Map<string, number>();
  /** Ready replicas of each workload's configured primary, as last observed: whether spill-over can be needed without asking the API. */
  private readonly primaryReady = new Map<string, number>();
  private readonly spillErrors = new Map<string, string>();
  private readonly spillInFlight = new Set<string>();
  /** Dry run: the share each workload's standby would take, kept here instead of in the memory. */
  private readonly dryRunSpill = new Map<string, { share: number; changedAt: number }>();
  private spillTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly deps: ReceiverDeps) {
    for (const w of deps.config.workloads) this.workloads.set(workloadKey(w.namespace, w.name), w);
    this.now = deps.now ?? Date.now;
    deps.metrics.servingShares(() => this.servingShares());
  }

  /**
   * Which Deployment serves each workload and which stands by, from the memory: what the rules join
   * the traffic's roles from. Only the leader says it (a follower's view may be behind).
   */
  servingShares(): ServingShare[] {
    if (!(this.deps.isLeader?.() ?? true)) return [];
    const shares: ServingShare[] = [];
    for (const [key, w] of this.workloads) {
      const serving = this.serving.get(key);
      if (!w.shadow || serving === undefined) continue;
      // A spill-over gives the standby its share and the serving set the rest (the serving set keeps
      // the larger share, and its role).
      const spill = serving === w.primary.name ? (this.spillShares.get(key) ?? 0) : 0;
      for (const set of [w.primary.name, w.shadow.name]) shares.push({ namespace: w.namespace, workload: w.name, deployment: set, share: set === serving ? 1 - spill : spill });
    }
    return shares;
  }

  /** Records a webhook's alerts. Resolves once they are durable; throws when they could not be recorded. */
  async accept(payload: WebhookPayload, receivedAt = performance.now()): Promise<AcceptResult> {
    const { routed, skipped } = routeAlerts(payload);
    const byWorkload = new Map<string, typeof routed>();
    for (const alert of routed) {
      const key = workloadKey(alert.namespace, alert.workload);
      if (!this.workloads.has(key)) {
        skipped.push({ fingerprint: alert.fingerprint, why: `workload ${alert.namespace}/${alert.workload} is not in the configuration` });
        continue;
      }
      byWorkload.set(key, [...(byWorkload.get(key) ?? []), alert]);
    }
    // These workloads count as waiting for their first write from now on, not once their alerts are
    // recorded: a flush's other reconciliations hold their later steps for them (firstWritesOfOthers).
    const firstWrites = new Map([...byWorkload.keys()].map((key) => [key, this.countFirstWrite(key)]));
    // What the reconciliations of these alerts will read from Prometheus is read while their alerts
    // are recorded (in one query for the workloads of a flush, and kept a moment; see signals.ts).
    for (const [key, alerts] of byWorkload) {
      if (!(this.deps.isLeader?.() ?? true)) break;
      const w = this.workloads.get(key)!;
      if (!w.shadow) continue;
      if (alerts.some((a) => a.status === 'firing' && a.action === 'prescale')) void this.deps.signals.plan(w).catch(() => undefined);
      if (alerts.some((a) => a.action === 'promote' || a.action === 'demote')) void this.deps.signals.shadowReady(w).catch(() => undefined);
    }
    let recorded = 0;
    const changed: string[] = [];
    try {
      await Promise.all(
        [...byWorkload].map(([key, alerts]) =>
          this.withMemory(key, async () => {
            // Applied to the memory as it is: when another writer (a new leader) wrote it since it was
            // read, read it again and apply these alerts to theirs, never overwrite it with ours.
            let before: WorkloadMemory;
            let after: WorkloadMemory;
            for (let attempt = 0; ; attempt++) {
              before = await this.deps.store.load(key);
              try {
                after = recordAlerts(before, alerts, this.now());
              } catch (error) {
                if (error instanceof AlertLimitError) throw new AlertLimitError(`workload ${alerts[0].namespace}/${alerts[0].workload}: ${error.message}`);
                throw error;
              }
              if (after === before) return;
              try {
                await this.deps.store.save(key, after);
                break;
              } catch (error) {
                if (!(error instanceof MemoryConflict) || attempt >= 4) throw error;
              }
            }
            const news = alerts.filter((a) => {
              const was = before.alerts[a.fingerprint];
              return after.alerts[a.fingerprint] !== was;
            });
            for (const a of news) this.deps.metrics.alert(a.action, a.status);
            recorded += news.length;
            changed.push(key);
          }),
        ),
      );
    } catch (error) {
      for (const release of firstWrites.values()) release();
      throw error;
    }
    this.deps.audit.record({
      event: 'webhook',
      groupKey: payload.groupKey,
      status: payload.status,
      fingerprints: payload.alerts.map((a) => `${a.fingerprint}:${a.status}`),
      recorded,
      skipped,
    });
    for (const [key, release] of firstWrites) {
      if (changed.includes(key)) void this.reconcile(key, receivedAt, release);
      else release();
    }
    return { recorded, skipped, workloads: changed };
  }

  /** Reconciles every workload now, then every `resync`. */
  start(): void {
    this.stopped = false;
    const tick = () => {
      if (this.stopped) return;
      const leading = this.deps.isLeader?.() ?? true;
      const keys = leading ? [...this.workloads.keys()] : [];
      // A few workloads at a time, so that a thousand of them do not hit the API server at once.
      const worker = async () => {
        for (let key = keys.shift(); key !== undefined && !this.stopped; key = keys.shift()) await this.reconcile(key);
      };
      void Promise.all(Array.from({ length: RESYNC_CONCURRENCY }, worker)).finally(() => {
        if (!this.stopped) this.resyncTimer = setTimeout(tick, this.deps.receiver.resync * 1000);
      });
    };
    tick();
  }

  /**
   * Spill-over (receiver.spill): every `every`, for each workload whose router can split traffic, the
   * share of live traffic its standby should take (core/promotion/spill.ts), from the loads the adapter
   * exports, the ready replicas of both sets and the shadow's readiness; a change is recorded in the
   * workload's memory and reconciled like any other desired state (the route step splits the traffic).
   */
  startSpill(): void {
    const settings = this.deps.receiver.spill;
    if (!settings?.enabled || !this.deps.signals.loads) return;
    // The routers that split traffic: an HTTPRoute's or a VirtualService's weights, and the local target's proxy.
    const candidates = [...this.workloads].filter(([, w]) => canSplit(w, this.deps.receiver.target));
    const tick = () => {
      if (this.stopped) return;
      this.spillTimer = setTimeout(tick, settings.every * 1000);
      this.spillTimer.unref?.();
      if (!(this.deps.isLeader?.() ?? true)) return;
      for (const [key, w] of candidates) {
        // One pass per workload at a time: a pass still waiting on Prometheus or the API is not doubled.
        if (this.spillInFlight.has(key)) continue;
        this.spillInFlight.add(key);
        void this.spillOnce(key, w).finally(() => this.spillInFlight.delete(key)).then(
          () => this.spillErrors.delete(key),
          (error: Error) => {
            // Audited when the reason changes, not at every pass.
            const message = `spill-over not decided: ${error.message}`;
            if (this.spillErrors.get(key) !== message) this.deps.audit.record({ event: 'error', namespace: w.namespace, workload: w.name, error: message });
            this.spillErrors.set(key, message);
          },
        );
      }
    };
    tick();
  }

  private async spillOnce(key: string, w: WorkloadConfig): Promise<void> {
    const settings = this.deps.receiver.spill;
    const shadow = w.shadow!;
    const loads = await this.deps.signals.loads!(w);
    if (!loads) return;
    const memory = await this.deps.store.load(key);
    const dryRun = this.deps.receiver.dryRun;
    // In a dry run nothing is written, the memory included: the share decided is only kept here.
    const kept = dryRun ? this.dryRunSpill.get(key) : memory.spill;
    const state = kept ? { share: kept.share, changedAt: kept.changedAt / 1000 } : NO_SPILL;
    if (!dryRun) this.spillShares.set(key, memory.spill?.share ?? 0);
    // Only while traffic is settled on the configured primary: a role change withdraws a spill (decide()),
    // and it is forgotten, so that it does not come back after the roles return.
    if (memory.swapped || (memory.serving ?? w.primary.name) !== w.primary.name) {
      this.dryRunSpill.delete(key);
      if (memory.spill && !dryRun) {
        await this.withMemory(key, async () => {
          const current = await this.deps.store.load(key);
          if (!current.spill) return;
          this.fence(w, 'forgetting the spill-over of a workload whose roles change');
          const { spill: _dropped, ...rest } = current;
          await this.deps.store.save(key, rest);
        });
        this.spillShares.set(key, 0);
      }
      return;
    }
    // Nothing spills and the plan fits what the primary was last seen with: no need to ask the API.
    const demand = Math.max(loads.observed ?? 0, loads.predicted ?? 0);
    const known = this.primaryReady.get(key);
    if (state.share === 0 && known !== undefined && demand <= known * w.capacityPerReplica) return;
    const observed = await this.clusterFor(key, w).observe();
    const servingReady = observed.replicas[w.primary.name]?.ready ?? 0;
    this.primaryReady.set(key, servingReady);
    let standbyHealthy = false;
    try {
      standbyHealthy = await this.deps.signals.shadowReady(w);
    } catch {
      // Readiness unknown: treated as not ready, as for a promotion.
    }
    const spec: SpillSpec = {
      capacityPerReplica: w.capacityPerReplica,
      shadowResourceFraction: shadow.resourceFraction,
      mirrorShare: shadow.mirrorPercent / 100,
      threshold: 1,
      maxShare: settings.maxShare,
      maxStep: settings.maxStep,
      hysteresis: settings.hysteresis,
      holdSeconds: settings.hold,
    };
    const now = this.now();
    const d = decideSpill(spec, state, {
      now: now / 1000,
      load: loads.observed ?? 0,
      plannedLoad: loads.predicted,
      servingReady,
      standbyReady: observed.replicas[shadow.name]?.ready ?? 0,
      standbyHealthy,
    });
    this.deps.metrics.spill(w.namespace, w.name, d.share);
    if (!d.changed) return;
    // The share and when it changed, a return to zero included: the hold runs from that change too, so
    // that a share given back is not given again at the next pass (the simulator's spill does the same).
    if (dryRun) {
      this.dryRunSpill.set(key, { share: d.share, changedAt: now });
      this.deps.audit.record({ event: 'spill', namespace: w.namespace, workload: w.name, before: state.share, after: d.share, why: `${d.why} (dry run: not written)` });
      return;
    }
    const saved = await this.withMemory(key, async () => {
      const current = await this.deps.store.load(key);
      // Decided on a memory that has changed since (another decision, a role change): decided again next time.
      if ((current.spill?.share ?? 0) !== state.share || current.swapped || (current.serving ?? w.primary.name) !== w.primary.name) return false;
      this.fence(w, `spill ${Math.round(d.share * 100)} %`);
      const { spill: _old, ...rest } = current;
      await this.deps.store.save(key, { ...rest, spill: { share: d.share, changedAt: now } });
      return true;
    });
    if (!saved) return;
    this.spillShares.set(key, d.share);
    this.deps.audit.record({ event: 'spill', namespace: w.namespace, workload: w.name, before: state.share, after: d.share, why: d.why });
    await this.reconcile(key);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.spillTimer);
    clearTimeout(this.resyncTimer);
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
  }

  /** Waits for the work queued on every workload (tests, shutdown). */
  async idle(): Promise<void> {
    while (true) {
      const pending = [...this.locks.values(), ...this.memoryLocks.values()];
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  /** The configured workload whose primary is the Deployment `namespace/deployment`, if any. */
  private workloadOfPrimary(namespace: string, deployment: string): [string, WorkloadConfig] | undefined {
    for (const [key, w] of this.workloads) if (w.namespace === namespace && w.primary.name === deployment && w.shadow) return [key, w];
    return undefined;
  }

  /**
   * Runs `fn` on the lock of the workload whose primary is `namespace/deployment` (the warm pool's
   * passes): the receiver and the pool never act on one workload at once. Directly when not configured.
   */
  exclusive<T>(namespace: string, deployment: string, fn: () => Promise<T>): Promise<T> {
    const found = this.workloadOfPrimary(namespace, deployment);
    return found ? this.serially(found[0], fn) : fn();
  }

  /**
   * What the warm pool may do with a configured primary's shadow: change its size only while the
   * receiver has nothing to act on (decided from the memory as it is now, as the receiver would), and
   * within the receiver's own bounds. Undefined for a primary the receiver is not configured for.
   */
  async poolView(namespace: string, deployment: string): Promise<{ idle: boolean; min: number; max: number } | undefined> {
    const found = this.workloadOfPrimary(namespace, deployment);
    if (!found) return undefined;
    const [key, w] = found;
    const memory = await this.deps.store.load(key);
    const { desired } = decide(memory, limitsOf(w, this.deps.receiver), { now: this.now(), shadowReady: false });
    return { idle: desired.idle, min: w.shadow!.minReplicas, max: w.shadow!.maxReplicas };
  }

  desired(key: string): DesiredState | undefined {
    return this.lastDesired.get(key);
  }

  /**
   * Decides and takes the steps towards the desired state of one workload. Never throws. Calls made
   * while one is already waiting its turn join it: it reads the memory when it starts, so a burst of
   * webhooks costs one reconciliation, not one each.
   */
  reconcile(key: string, receivedAt?: number, counted?: () => void): Promise<void> {
    const w = this.workloads.get(key);
    if (!w) {
      counted?.();
      return Promise.resolve();
    }
    const waiting = this.waitingReconciles.get(key);
    if (waiting) {
      // Joined: the reconciliation waiting its turn makes (and counts) the first write.
      counted?.();
      return waiting;
    }
    const firstWrite = counted ?? (receivedAt !== undefined ? this.countFirstWrite(key) : undefined);
    const run = this.serially(key, async () => {
      this.waitingReconciles.delete(key);
      try {
        if (this.stopped) return;
        await this.reconcileNow(key, w, receivedAt, firstWrite);
      } catch (error) {
        this.deps.metrics.reconcileError(w.namespace, w.name);
        this.deps.audit.record({ event: 'error', namespace: w.namespace, workload: w.name, error: (error as Error).message });
      } finally {
        firstWrite?.();
      }
    });
    this.waitingReconciles.set(key, run);
    return run;
  }

  /**
   * Counts a webhook-driven reconciliation of `key` as waiting for its first write; the function
   * returned uncounts it (once, however often called).
   */
  private countFirstWrite(key: string): () => void {
    this.awaitingFirstWrite.set(key, (this.awaitingFirstWrite.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.awaitingFirstWrite.get(key) ?? 1) - 1;
      if (left > 0) this.awaitingFirstWrite.set(key, left);
      else this.awaitingFirstWrite.delete(key);
      if (this.awaitingFirstWrite.size === 0) {
        const waiters = this.firstWriteWaiters;
        this.firstWriteWaiters = [];
        for (const go of waiters) go();
      }
    };
  }

  /**
   * First writes first: a reconciliation past its first step lets the webhooks of other workloads
   * reach their first write before it takes its next one (an Alertmanager flush of twenty workloads
   * raises twenty floors before any of them goes on to grow its shadow), for at most
   * FIRST_WRITES_WAIT_MS. A workload's own queued webhooks are not waited for: they wait for it.
   */
  private async firstWritesOfOthers(key: string): Promise<void> {
    const others = () => this.awaitingFirstWrite.size - (this.awaitingFirstWrite.has(key) ? 1 : 0);
    if (others() === 0) return;
    await new Promise<void>((resolve) => {
      let waiting = true;
      const go = () => {
        waiting = false;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(go, FIRST_WRITES_WAIT_MS);
      const check = () => {
        if (!waiting) return;
        if (others() === 0) go();
        else this.firstWriteWaiters.push(check);
      };
      this.firstWriteWaiters.push(check);
    });
  }

  /** Fencing: every write to the cluster or the memory happens only while this replica leads. */
  private fence(w: WorkloadConfig, before: string): void {
    if (this.deps.isLeader?.() ?? true) return;
    throw new NotLeader(`${w.namespace}/${w.name}: no longer the leader, stopped before ${before}`);
  }

  private async reconcileNow(key: string, w: WorkloadConfig, receivedAt?: number, firstWrite?: () => void): Promise<void> {
    if (!w.shadow) return;
    if (!(this.deps.isLeader?.() ?? true)) return;
    const cluster = this.clusterFor(key, w);
    // The cluster is observed while the signals are read and the decision recorded: the first step
    // goes out a round trip sooner. An observation older than a second by then is taken again.
    const firstObservedAt = this.now();
    const firstObservation = cluster.observe();
    firstObservation.catch(() => undefined);
    const memory = await this.deps.store.load(key);
    const now = this.now();
    this.serving.set(key, memory.serving ?? w.primary.name);
    this.spillShares.set(key, memory.spill?.share ?? 0);

    // The standby's readiness gates every role change: a promotion onto the shadow, a revert onto the
    // primary, and again a swap decided but not yet moved (its set may have degraded since).
    const firingAction = (action: string) => Object.values(memory.alerts).some((a) => a.status === 'firing' && a.action === action);
    const serving = memory.serving ?? w.primary.name;
    const pending = memory.swapped !== (serving === w.shadow.name);
    const wantsPromotion = !memory.swapped && firingAction('promote');
    const wantsRevert = memory.swapped && (!firingAction('promote') || firingAction('demote'));
    let shadowReady = false;
    if ((wantsPromotion || wantsRevert || pending) && cluster.canRoute) {
      try {
        shadowReady = await this.deps.signals.shadowReady(w);
      } catch (error) {
        this.deps.audit.record({ event: 'error', namespace: w.namespace, workload: w.name, error: `readiness unknown, not promoting: ${(error as Error).message}` });
      }
    }
    const wantsPlan = !memory.prescalePlan && Object.values(memory.alerts).some((a) => a.status === 'firing' && a.action === 'prescale');
    let plan: PlanSnapshot | undefined;
    if (wantsPlan) {
      try {
        plan = await this.deps.signals.plan(w);
      } catch (error) {
        this.deps.audit.record({ event: 'error', namespace: w.namespace, workload: w.name, error: `plan unknown: ${(error as Error).message}` });
      }
    }

    const limits = limitsOf(w, this.deps.receiver);
    // A decision that only captures the plan of a prescale episode is saved after the first write (the
    // floor that plan raises), not before it: a crash in between loses nothing (the alert is recorded,
    // and the plan is taken again), and a flush's first writes go out one round trip sooner.
    let deferred: { from: string; plan: PlanSnapshot } | undefined;
    const saveDeferred = async () => {
      if (!deferred) return;
      const { from, plan } = deferred;
      deferred = undefined;
      await this.savePlan(key, w, from, plan);
    };
    // Decided on the memory as it is now (a webhook may have been recorded while the signals were
    // read; it queued a reconciliation of its own, which reads the signals it needs).
    const decided = await this.withMemory(key, async () => {
      const current = await this.deps.store.load(key);
      const d = decide(current, limits, { now, shadowReady }, plan);
      const before = JSON.stringify(current);
      if (JSON.stringify(d.memory) !== before) {
        if (capturesPlanOnly(current, d.memory)) {
          deferred = { from: before, plan: d.memory.prescalePlan! };
          return d;
        }
        this.fence(w, 'saving the decision');
        try {
          await this.deps.store.save(key, d.memory);
        } catch (error) {
          if (!(error instanceof MemoryConflict)) throw error;
          // Another writer (a new leader) changed the memory since it was read: decide again on theirs.
          return undefined;
        }
      }
      return d;
    });
    if (!decided) {
      this.retrySoon(key);
      return;
    }
    try {
      const { desired, memory: next } = decided;
      if (!cluster.canRoute && wantsPromotion) desired.reasons.push('promote: no router configured for this workload, roles cannot change');

      const previous = this.lastDesired.get(key);
      if (!previous || JSON.stringify(previous) !== JSON.stringify(desired)) {
        this.deps.audit.record({ event: 'decision', namespace: w.namespace, workload: w.name, before: previous ?? null, after: desired, reasons: desired.reasons });
      }
      this.lastDesired.set(key, desired);
      this.deps.metrics.desired(w.namespace, w.name, desired);

      const fingerprints = firingFingerprints(next);
      const dryRun = this.deps.receiver.dryRun;
      for (let i = 0; i < MAX_STEPS; i++) {
        if (i > 0) {
          await this.firstWritesOfOthers(key);
          await saveDeferred();
        }
        const observed = i === 0 && this.now() - firstObservedAt <= FIRST_OBSERVATION_MAX_AGE_MS ? await firstObservation : await cluster.observe();
        if (i === 0) {
          this.observeShadowCost(key, w, observed.replicas[desired.standby]?.spec ?? 0);
          if (observed.replicas[w.primary.name]) this.primaryReady.set(key, observed.replicas[w.primary.name].ready);
          // The router is the truth of who serves (a hand edit, or a crash between a route write and the memory).
          if (observed.route && observed.route.active !== this.serving.get(key)) await this.recordServing(key, w, observed.route.active);
        }
        const step = nextStep(observed, desired, this.now());
        if (step.kind !== 'wait') this.lastWait.delete(key);
        if (step.kind === 'done') return;
        if (step.kind === 'wait') {
          // Audited when the reason changes, not at every retry.
          if (this.lastWait.get(key) !== step.why) this.deps.audit.record({ event: 'wait', namespace: w.namespace, workload: w.name, why: step.why });
          this.lastWait.set(key, step.why);
          this.retrySoon(key);
          return;
        }
        if (dryRun || !w.actions) {
          const result = dryRun ? 'dry_run' : 'disabled';
          // Report each distinct step once per desired state, not at every resync.
          if (!previous || JSON.stringify(previous) !== JSON.stringify(desired)) {
            this.deps.audit.record({ event: 'action', namespace: w.namespace, workload: w.name, step, result, fingerprints });
            this.deps.metrics.action(step.kind, result, w.namespace, w.name);
          }
          return;
        }
        if (receivedAt !== undefined) {
          this.deps.metrics.receiptToCall((performance.now() - receivedAt) / 1000);
          receivedAt = undefined;
          firstWrite?.();
        }
        this.fence(w, `${step.kind}: ${step.why}`);
        try {
          await cluster.apply(step);
        } catch (error) {
          if (error instanceof StaleObservation) {
            // Someone else (the HPA, the warm pool, a person) changed it since it was observed: look again.
            this.deps.audit.record({ event: 'wait', namespace: w.namespace, workload: w.name, why: `${step.why}: not taken, ${error.message}; observed again` });
            continue;
          }
          this.deps.metrics.action(step.kind, 'error', w.namespace, w.name);
          this.deps.audit.record({ event: 'action', namespace: w.namespace, workload: w.name, step, result: 'error', error: (error as Error).message, fingerprints });
          throw error;
        }
        this.deps.metrics.action(step.kind, 'success', w.namespace, w.name);
        if (step.kind === 'route' && step.active !== this.serving.get(key)) {
          await this.recordServing(key, w, step.active);
          // The drain counts from this move: the rest of this pass must not retarget or shrink before it.
          desired.drainUntil = Math.max(desired.drainUntil, this.now() + this.deps.receiver.drain * 1000);
        }
        this.deps.audit.record({ event: 'action', namespace: w.namespace, workload: w.name, step, result: 'success', fingerprints });
        const spillChanged = step.kind === 'route' && Math.round(step.spill * 100) !== Math.round((observed.route?.spill ?? 0) * 100) && step.active === observed.route?.active;
        if (spillChanged) {
          void cluster.event?.('ShadowscaleSpillOver', `${step.why} (${desired.reasons.join('; ')})`).catch(() => undefined);
        } else if (step.kind === 'route' || (step.kind === 'autoscaler' && observed.autoscaler?.target !== step.target)) {
          void cluster.event?.(desired.swapped ? 'ShadowscalePromoted' : 'ShadowscaleReverted', `${step.why} (${desired.reasons.join('; ')})`).catch(() => undefined);
        }
        if (step.kind === 'restart') void cluster.event?.('ShadowscaleShadowRestarted', `${step.why} (${desired.reasons.join('; ')})`, 'Warning').catch(() => undefined);
      }
      throw new Error(`${w.namespace}/${w.name}: desired state not reached after ${MAX_STEPS} steps; is something else changing the same objects?`);
    } finally {
      await saveDeferred();
    }
  }

  /**
   * Records the plan captured by a decision taken on the memory `from` (its JSON), on the memory as
   * it is now: a webhook recorded since (an alert resolved while the floor was raised: the episode's
   * cooldown still uses the plan) is kept, and a plan another writer recorded is not replaced. When the
   * memory changed, the workload is decided again soon, on the memory as it is.
   */
  private async savePlan(key: string, w: WorkloadConfig, from: string, plan: PlanSnapshot): Promise<void> {
    const saved = await this.withMemory(key, async () => {
      const current = await this.deps.store.load(key);
      const unchanged = JSON.stringify(current) === from;
      if (current.prescalePlan) return unchanged;
      this.fence(w, 'recording the plan');
      try {
        await this.deps.store.save(key, { ...current, prescalePlan: plan });
        return unchanged;
      } catch (error) {
        if (!(error instanceof MemoryConflict)) throw error;
        return false;
      }
    });
    if (!saved) this.retrySoon(key);
  }

  /**
   * Remembers which set serves, in the same step that moved (or found) the traffic there; a move is a
   * role change, stamped now (the rate limit counts moves, not decisions).
   */
  private async recordServing(key: string, w: WorkloadConfig, set: string): Promise<void> {
    await this.withMemory(key, () => this.recordServingNow(key, w, set));
  }

  private async recordServingNow(key: string, w: WorkloadConfig, set: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const memory = await this.deps.store.load(key);
      const next = recordMove(memory, set, w.primary.name, this.now());
      if (next === memory) break;
      this.fence(w, 'recording the move');
      try {
        await this.deps.store.save(key, next);
        break;
      } catch (error) {
        if (!(error instanceof MemoryConflict) || attempt >= 4) throw error;
      }
    }
    this.serving.set(key, set);
  }

  private observeShadowCost(key: string, w: WorkloadConfig, replicas: number): void {
    const now = this.now();
    const last = this.lastStandby.get(key);
    // The replicas seen last held since then: a step function sampled at every reconciliation.
    const cost = last ? (last.replicas * (w.shadow?.resourceFraction ?? 1) * Math.max(0, now - last.at)) / 1000 : 0;
    this.lastStandby.set(key, { at: now, replicas });
    this.deps.metrics.shadows(w.namespace, w.name, replicas, cost);
  }

  private clusterFor(key: string, w: WorkloadConfig): WorkloadCluster {
    let c = this.clusters.get(key);
    if (!c) {
      c = this.deps.cluster(w);
      this.clusters.set(key, c);
    }
    return c;
  }

  private retrySoon(key: string): void {
    if (this.stopped || this.retryTimers.has(key)) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(key);
      void this.reconcile(key);
    }, WAIT_RETRY_MS);
    timer.unref();
    this.retryTimers.set(key, timer);
  }

  /** Runs `fn` after everything queued before it on `key` (reconciliations, pool passes). */
  private serially<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return queue(this.locks, key, fn);
  }

  /** Runs `fn` after every memory read-modify-write queued before it on `key`. */
  private withMemory<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return queue(this.memoryLocks, key, fn);
  }
}

/** Runs `fn` after everything queued before it on `key` in `locks`. */
function queue<T>(locks: Map<string, Promise<unknown>>, key: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, settled);
  void settled.then(() => {
    if (locks.get(key) === settled) locks.delete(key);
  });
  return run;
}

export function limitsOf(w: WorkloadConfig, r: ReceiverConfig): Limits {
  const shadow = w.shadow!;
  return {
    primary: { name: w.primary.name, minReplicas: w.primary.minReplicas, maxReplicas: w.primary.maxReplicas },
    shadow: { name: shadow.name, minReplicas: shadow.minReplicas, maxReplicas: shadow.maxReplicas, mirrorPercent: shadow.mirrorPercent, resourceFraction: shadow.resourceFraction },
    cooldownMs: r.cooldown * 1000,
    prescaleMaxMs: r.prescaleMax * 1000,
    minHoldMs: r.minHold * 1000,
    maxRoleChangesPerHour: r.maxRoleChangesPerHour,
    drainMs: r.drain * 1000,
  };
}

function firingFingerprints(memory: WorkloadMemory): string[] {
  return Object.entries(memory.alerts)
    .filter(([, a]) => a.status === 'firing')
    .map(([fingerprint]) => fingerprint)
    .sort();
}

/** Whether `next` is `current` with only the plan of a prescale episode captured. */
function capturesPlanOnly(current: WorkloadMemory, next: WorkloadMemory): boolean {
  if (current.prescalePlan || !next.prescalePlan) return false;
  const { prescalePlan: _captured, ...rest } = next;
  return JSON.stringify(rest) === JSON.stringify(current);
}
