/**
 * `shadowscale demo --chaos`: the demo's loop with its parts failing on a schedule, one after another:
 * a shadow replica killed, Prometheus hung then killed and restarted on its data, Alertmanager killed
 * and restarted with empty storage, the receiver killed in the middle of a promotion and restarted, the
 * adapter restarted. For each fault it measures how long the loop takes to converge again and how many
 * requests went unserved meanwhile; throughout, it checks what must hold whatever fails: the adapter's
 * fallback ladder never climbs while Prometheus is away and never serves less than the minimum, the
 * serving set always has ready replicas, no set falls below its minimum, and the receiver takes no
 * action twice (its audit log shows one action per intent).
 */
import type { ActionStep } from '../actuators/target.ts';
import type { AuditEvent } from '../alertmanager/audit.ts';
import { workloadKey, type WorkloadConfig } from '../core/config.ts';
import { nextStep, type DesiredState } from '../core/promotion/promotion.ts';
import { fmtClock } from './narration.ts';
import { NS, PRIMARY, SHADOW, WORKLOAD, type DemoStack } from './stack.ts';

const RUNGS = ['fresh', 'stale', 'reactive', 'minimum'] as const;
/** How long a fault may take to converge before the run says it did not. */
const CONVERGE_TIMEOUT_S = 60;

export interface FaultRecord {
  fault: string;
  /** Wall seconds since the start: injected, the failed part back (restarted or replaced), the loop converged. */
  injectedAt: number;
  backAt?: number;
  convergedAt?: number;
  /** From injection to convergence. */
  convergeSeconds?: number;
  /** What convergence means for this fault. */
  convergence: string;
  /** Requests offered, and left unserved, from injection to convergence (or the end of the run). */
  offered: number;
  unserved: number;
  /** Actions the receiver took meanwhile (successful Kubernetes-like writes). */
  actions: number;
  note?: string;
}

export interface ChaosReport {
  faults: FaultRecord[];
  /** The rungs the adapter served while Prometheus was away (hung, dead, restarting), in order, deduplicated. */
  rungsDuringOutage: string[];
  /** Rungs that moved up while Prometheus was away, served values below the minimum, 0 or missing. */
  ladderViolations: string[];
  /** Checks (twice a second) that found the serving set without a ready replica, or a set below its minimum. */
  invariantViolations: string[];
  /** Whether the receiver died between a promotion's first step and its last. */
  receiverKilledMidPromotion: boolean;
  /** Successful actions in the whole run, and those that repeated the previous write of the same object. */
  actions: number;
  duplicates: string[];
  /** Samples of the adapter's answer (rung, desired replicas), or 'down' while it restarts. */
  ladderSamples: number;
}

export interface ChaosDeps {
  stack: DemoStack;
  workload: WorkloadConfig;
  durationSeconds: number;
  /** When the scenario degrades the serving set (which leads to a promotion), and for how long. */
  degrade: { at: number; seconds: number };
  elapsed: () => number;
  /** Requests offered and unserved so far. */
  traffic: () => { offered: number; unserved: number };
  print: (line: string) => void;
}

type Sample = { t: number; rung?: string; desired?: number };

export class Chaos {
  private readonly faults: FaultRecord[] = [];
  private readonly samples: Sample[] = [];
  private readonly ladderViolations: string[] = [];
  private readonly invariantViolations: string[] = [];
  private readonly actions: Array<{ t: number; step: ActionStep }> = [];
  private desired?: DesiredState;
  private outage?: { from: number; to?: number };
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private script?: Promise<void>;
  /** Set while waiting for a promotion to be under way: called with the step just taken. */
  private onPromotionStep?: (step: ActionStep) => void;
  private killedMidPromotion = false;
  private scriptDone = false;

  constructor(private readonly d: ChaosDeps) {}

  /** The receiver's audit events as they are recorded (the kill mid-promotion is timed on them). */
  audit(e: AuditEvent): void {
    if (e.event === 'decision') this.desired = e.after as DesiredState;
    if (e.event !== 'action' || e.result !== 'success') return;
    const step = e.step as ActionStep;
    this.actions.push({ t: this.d.elapsed(), step });
    // A promotion under way: the swap onto the shadow is decided, and this step grows the shadow (the
    // incoming set) or moves the traffic onto it; retargeting and shrinking the old set remain.
    const towardsShadow = (step.kind === 'scale' && step.set === SHADOW && step.replicas > step.from) || (step.kind === 'route' && step.active === SHADOW);
    if (this.desired?.swapped && this.desired.active === SHADOW && towardsShadow) this.onPromotionStep?.(step);
  }

  start(): void {
    this.timers.push(setInterval(() => void this.sample(), 500));
    this.script = this.run()
      .catch((error) => this.d.print(`  chaos: the fault script failed: ${(error as Error).message}`))
      .finally(() => (this.scriptDone = true));
  }

  /** Every fault injected, and each converged or given up on. */
  finished(): boolean {
    return this.scriptDone;
  }

  /** Stops the checks (the fault under way, if any, ends unconverged) and reports. Once. */
  stop(): Promise<ChaosReport> {
    this.report ??= this.finish();
    return this.report;
  }

  private report?: Promise<ChaosReport>;

  private async finish(): Promise<ChaosReport> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.script;
    const traffic = this.d.traffic();
    for (const f of this.faults) {
      if (f.convergedAt === undefined) {
        f.offered = traffic.offered - f.offered;
        f.unserved = traffic.unserved - f.unserved;
        f.actions = this.actions.filter((a) => a.t >= f.injectedAt).length;
      }
    }
    const rungsDuringOutage: string[] = [];
    for (const s of this.samples) {
      if (!this.outage || s.t < this.outage.from || (this.outage.to !== undefined && s.t > this.outage.to) || !s.rung) continue;
      if (rungsDuringOutage[rungsDuringOutage.length - 1] !== s.rung) rungsDuringOutage.push(s.rung);
    }
    return {
      faults: this.faults,
      rungsDuringOutage,
      ladderViolations: this.ladderViolations,
      invariantViolations: this.invariantViolations,
      receiverKilledMidPromotion: this.killedMidPromotion,
      actions: this.actions.length,
      duplicates: duplicateActions(this.actions.map((a) => a.step)),
      ladderSamples: this.samples.length,
    };
  }

  /** The report's lines. */
  static lines(r: ChaosReport): string[] {
    const lines = ['', 'chaos: each fault, and the loop after it'];
    for (const f of r.faults) {
      const converged = f.convergeSeconds !== undefined ? `converged in ${f.convergeSeconds.toFixed(1)} s` : `NOT converged within ${CONVERGE_TIMEOUT_S} s`;
      lines.push(`  ${fmtClock(f.injectedAt)}  ${f.fault}: ${converged} (${f.convergence}); ${f.unserved} of ${f.offered} requests unserved meanwhile; ${f.actions} actions${f.note ? `; ${f.note}` : ''}`);
    }
    lines.push(`  rungs served while Prometheus was away: ${r.rungsDuringOutage.join(' → ') || 'none sampled'}; ladder violations: ${r.ladderViolations.length === 0 ? 'none' : r.ladderViolations.join('; ')}`);
    lines.push(`  serving set without ready replicas, or a set below its minimum: ${r.invariantViolations.length === 0 ? 'never' : r.invariantViolations.join('; ')}`);
    lines.push(`  receiver killed ${r.receiverKilledMidPromotion ? 'in the middle of a promotion' : 'outside a promotion (none came in time)'}; ${r.actions} actions in all, ${r.duplicates.length} repeated${r.duplicates.length ? `: ${r.duplicates.join('; ')}` : ''}`);
    return lines;
  }

  private async run(): Promise<void> {
    const { stack, durationSeconds: D, degrade } = this.d;
    const key = workloadKey(NS, WORKLOAD);

    await this.at(0.05 * D);
    let killed: number | undefined;
    await this.fault(
      'a shadow replica killed (SIGKILL)',
      'the dead replica is replaced and the shadow set has all its replicas ready again',
      async () => {
        killed = stack.cluster!.pool(SHADOW).killOne();
        return killed === undefined ? 'no ready shadow replica to kill' : `PID ${killed}`;
      },
      async () => {
        const pool = stack.cluster!.pool(SHADOW);
        return !pool.pids().includes(killed!) && pool.ready >= pool.spec;
      },
    );

    await this.at(0.1 * D);
    await this.fault(
      'Prometheus hung 6 s (SIGSTOP), then killed (SIGKILL), restarted 2 s later on its data',
      'the adapter serves a fresh forecast again',
      async () => {
        this.outage = { from: this.d.elapsed() };
        stack.hangPrometheus();
        await this.sleep(6);
        await stack.killPrometheus();
        await this.sleep(2);
        await stack.restartPrometheus();
        this.outage.to = this.d.elapsed();
        return undefined;
      },
      async () => this.lastRung() === 'fresh',
    );

    await this.at(0.3 * D);
    await this.fault(
      'Alertmanager killed (SIGKILL), restarted 4 s later with empty storage',
      'Alertmanager holds every alert Prometheus has firing',
      async () => {
        await stack.killAlertmanager();
        await this.sleep(4);
        await stack.restartAlertmanager();
        return undefined;
      },
      async () => this.alertmanagerCaughtUp(),
    );

    // The receiver dies as soon as a promotion has taken its first step (the degradation leads to one).
    await this.at(degrade.at);
    const deadline = degrade.at + degrade.seconds + 30;
    const killedBy = await this.killReceiverInPromotion(deadline);
    await this.fault(
      'the receiver killed in the middle of a promotion, restarted 3 s later',
      "the cluster is in the receiver's desired state (the promotion completed, or reverted)",
      async () => {
        await this.sleep(3);
        await stack.restartReceiver();
        return killedBy ? `killed right after "${killedBy.why}"` : `no promotion by ${fmtClock(deadline)}: killed then`;
      },
      async () => {
        const desired = stack.receiver!.receiver.desired(key);
        if (!desired) return false;
        return nextStep(await stack.cluster!.observe(), desired, Date.now()).kind === 'done';
      },
      () => `then serving ${stack.cluster!.proxy.state.active}`,
    );

    await this.at(0.85 * D);
    await this.fault(
      'the adapter restarted',
      'the adapter is ready and serves a fresh forecast',
      async () => {
        await stack.restartAdapter();
        return undefined;
      },
      async () => (await fetch(`${stack.adapter!.httpUrl}/readyz`).then((r) => r.ok).catch(() => false)) && this.lastRung() === 'fresh',
    );
  }

  /**
   * Kills the receiver right after a promotion's first step (in the audit callback of that step, so
   * nothing else of it runs), or at `deadline` when no promotion came. Returns the step it died after.
   */
  private killReceiverInPromotion(deadline: number): Promise<ActionStep | undefined> {
    return new Promise<ActionStep | undefined>((resolve) => {
      const give = setInterval(() => {
        if (this.stopped || this.d.elapsed() >= deadline) {
          clearInterval(give);
          this.onPromotionStep = undefined;
          void this.d.stack.killReceiver();
          resolve(undefined);
        }
      }, 250);
      this.onPromotionStep = (step) => {
        clearInterval(give);
        this.onPromotionStep = undefined;
        this.killedMidPromotion = true;
        void this.d.stack.killReceiver();
        resolve(step);
      };
    });
  }

  /**
   * Injects one fault (`inject` returns once the failed part is back), then waits for the loop to
   * converge, measuring the time and the requests unserved from the injection.
   */
  private async fault(name: string, convergence: string, inject: () => Promise<string | undefined>, converged: () => Promise<boolean>, after?: () => string): Promise<void> {
    if (this.stopped) return;
    const before = this.d.traffic();
    const actionsBefore = this.actions.length;
    const record: FaultRecord = { fault: name, injectedAt: this.d.elapsed(), convergence, offered: before.offered, unserved: before.unserved, actions: 0 };
    this.faults.push(record);
    this.d.print(`  ${fmtClock(record.injectedAt)}  ✗ chaos: ${name}`);
    const note = await inject();
    if (note) record.note = note;
    record.backAt = this.d.elapsed();
    const deadline = record.injectedAt + CONVERGE_TIMEOUT_S;
    while (!this.stopped && this.d.elapsed() < deadline) {
      if (await converged().catch(() => false)) {
        const now = this.d.traffic();
        record.convergedAt = this.d.elapsed();
        record.convergeSeconds = record.convergedAt - record.injectedAt;
        record.offered = now.offered - record.offered;
        record.unserved = now.unserved - record.unserved;
        record.actions = this.actions.length - actionsBefore;
        if (after) record.note = [record.note, after()].filter(Boolean).join('; ');
        this.d.print(`  ${fmtClock(record.convergedAt)}  ✓ chaos: converged after ${record.convergeSeconds.toFixed(1)} s (${convergence})`);
        return;
      }
      await this.sleep(0.25);
    }
  }

  /** Samples the adapter's answer and the cluster's invariants. */
  private async sample(): Promise<void> {
    const { stack, workload: w } = this.d;
    const t = this.d.elapsed();
    const c = stack.cluster;
    if (c && !this.stopped) {
      const serving = c.proxy.state.active;
      const standby = serving === PRIMARY ? SHADOW : PRIMARY;
      const problems: string[] = [];
      if (c.pool(serving).ready === 0) problems.push(`the serving set ${serving} has no ready replica`);
      if (c.pool(serving).spec < w.primary.minReplicas) problems.push(`the serving set ${serving} has ${c.pool(serving).spec} < ${w.primary.minReplicas} replicas`);
      if (c.pool(standby).spec < (w.shadow?.minReplicas ?? 0)) problems.push(`the standby ${standby} has ${c.pool(standby).spec} < ${w.shadow?.minReplicas} replicas`);
      for (const p of problems) this.invariantViolations.push(`${fmtClock(t)} ${p}`);
    }
    const adapter = stack.adapter;
    if (!adapter) return;
    const body = await fetch(`${adapter.httpUrl}/predict/capacity?workload=${WORKLOAD}&namespace=${NS}`, { signal: AbortSignal.timeout(1000) })
      .then((r) => (r.ok ? (r.json() as Promise<{ rung: string; desiredReplicas: number }>) : undefined))
      .catch(() => undefined);
    // Down while it restarts: the HPA keeps its last value then, as with an unavailable metric.
    const sample: Sample = body ? { t, rung: body.rung, desired: body.desiredReplicas } : { t };
    if (this.stopped) return;
    if (sample.rung !== undefined) {
      if (!(sample.desired! >= w.primary.minReplicas)) this.ladderViolations.push(`${fmtClock(t)} served ${sample.desired} replicas, below the minimum ${w.primary.minReplicas}`);
      const previous = [...this.samples].reverse().find((s) => s.rung !== undefined);
      const away = this.outage && t >= this.outage.from && (this.outage.to === undefined || t <= this.outage.to);
      if (away && previous && previous.t >= this.outage!.from && RUNGS.indexOf(sample.rung as never) < RUNGS.indexOf(previous.rung as never)) {
        this.ladderViolations.push(`${fmtClock(t)} ${previous.rung} → ${sample.rung} while Prometheus was away`);
      }
    }
    this.samples.push(sample);
  }

  private lastRung(): string | undefined {
    return this.samples[this.samples.length - 1]?.rung;
  }

  private async alertmanagerCaughtUp(): Promise<boolean> {
    const { stack } = this.d;
    const am = stack.alertmanager!;
    if (!(await fetch(`${am.url}/-/ready`).then((r) => r.ok).catch(() => false))) return false;
    const held = new Set(((await (await fetch(`${am.url}/api/v2/alerts?active=true&silenced=false&inhibited=true`)).json()) as Array<{ labels: Record<string, string> }>).map((a) => `${a.labels.alertname}/${a.labels.workload ?? ''}`));
    const firing = await stack.prom!.query('ALERTS{alertstate="firing"}');
    return firing.every((a) => held.has(`${a.labels.alertname}/${a.labels.workload ?? ''}`));
  }

  private async at(t: number): Promise<void> {
    while (!this.stopped && this.d.elapsed() < t) await this.sleep(0.25);
  }

  private sleep(seconds: number): Promise<void> {
    return new Promise((r) => setTimeout(r, seconds * 1000));
  }
}

/**
 * Successful writes that repeated the previous write of the same object with the same value (a route
 * to the same sets, an autoscaler to the same target and bounds, a set scaled from and to the same
 * sizes, a restart with the same stamp): an intent acted on twice.
 */
export function duplicateActions(steps: readonly ActionStep[]): string[] {
  const last = new Map<string, string>();
  const duplicates: string[] = [];
  for (const step of steps) {
    const { why: _why, ...what } = step;
    const object = step.kind === 'route' ? 'route' : step.kind === 'autoscaler' ? 'autoscaler' : `${step.kind}/${step.set}`;
    const value = JSON.stringify(what);
    if (last.get(object) === value) duplicates.push(`${object} ${value} twice in a row`);
    last.set(object, value);
  }
  return duplicates;
}
