/**
 * The alert path of the receiver's pre-scale, as the shipped rules, Prometheus and the example
 * Alertmanager route deliver it: a prescale alert's condition is evaluated every evaluation interval on
 * what Prometheus has scraped, held for the rule's `for:` before it fires, grouped per workload by
 * Alertmanager (the first notification after `group_wait`, later changes at `group_interval` ticks,
 * resolves included), and the webhook's alerts go through the receiver's own decision
 * (core/promotion/promotion.ts recordAlerts and decide), whose floor the HPA then applies.
 *
 * Pure: numbers in (what Prometheus has at each evaluation), notifications and the receiver's desired
 * floor and pool out. The durations come from the shipped files (simulation/alert-path.ts reads them).
 */
import { decide, emptyMemory, recordAlerts, type AlertAction, type Limits, type PlanSnapshot, type WorkloadMemory } from '../promotion/promotion.ts';

/** The latencies of the path, in seconds, as the rules and the Alertmanager route set them. */
export interface AlertPathSpec {
  /** How often Prometheus evaluates the alerting rules. */
  evaluationIntervalSeconds: number;
  /** `for:` of each prescale alert, by alert name and reason (`ShadowscaleLoadAnomaly/above_forecast_band`). */
  forSeconds: Record<PrescaleAlert, number>;
  /** The receiver's route: the first notification of a new group waits this long ... */
  groupWaitSeconds: number;
  /** ... and a change to a group already notified waits for its next tick, this far apart. */
  groupIntervalSeconds: number;
}

/** The prescale alerts the simulator evaluates (the weekly-baseline anomaly needs weeks of history and no forecast; not modelled). */
export const PRESCALE_ALERTS = ['ShadowscalePredictedOverload', 'ShadowscaleLoadAnomaly/above_forecast_band'] as const;
export type PrescaleAlert = (typeof PRESCALE_ALERTS)[number];

/** What Prometheus has at an evaluation: the inputs of the prescale rules. */
export interface RuleInputs {
  /** shadowscale_forecast_load{quantile="0.975"}: the 95 % band's upper bound one lag ahead; undefined: not exported. */
  forecastUpper95?: number;
  /** shadowscale_forecast_lagged_load{quantile="0.975"}: the same bound, of the forecast made a lag ago, for now. */
  laggedUpper95?: number;
  /** shadowscale_observed_load. */
  observed?: number;
  /** shadowscale:capacity:ready_primary: ready primary replicas × capacityPerReplica. */
  readyCapacity: number;
  /** The workload's min_request_rate bound. */
  minRequestRate: number;
}

/** Each prescale rule's expression, on the values its series have. */
export function conditions(x: RuleInputs): Record<PrescaleAlert, boolean> {
  return {
    ShadowscalePredictedOverload: x.forecastUpper95 !== undefined && x.forecastUpper95 > x.readyCapacity,
    'ShadowscaleLoadAnomaly/above_forecast_band':
      x.observed !== undefined && x.laggedUpper95 !== undefined && x.observed - x.laggedUpper95 > 0 && x.observed >= x.minRequestRate,
  };
}

/** One alert as Prometheus holds it. */
interface RuleState {
  /** When the condition became true (the alert's startsAt); undefined: inactive. */
  activeAt?: number;
  firing: boolean;
}

/** A notification the receiver gets: the group's alerts, firing and resolved. */
export interface Notification {
  at: number;
  alerts: Array<{ alert: PrescaleAlert; status: 'firing' | 'resolved'; startsAt: number }>;
}

/**
 * Prometheus's alerting rules (pending → firing after `for`, resolved when the condition is false at an
 * evaluation) and Alertmanager's group for one workload (group_by namespace, workload; send_resolved).
 */
export class AlertPath {
  private readonly rules = new Map<PrescaleAlert, RuleState>(PRESCALE_ALERTS.map((a) => [a, { firing: false }]));
  /** Alertmanager's view: each alert's status and startsAt as last received, and what the group last notified. */
  private readonly received = new Map<PrescaleAlert, { status: 'firing' | 'resolved'; startsAt: number }>();
  private notified = new Map<PrescaleAlert, string>();
  /** The group's next flush; undefined while it has no alert. */
  private nextFlush: number | undefined;
  private nextEvaluation: number | undefined;
  /** Times an alert went from pending to firing. */
  fired = 0;

  constructor(
    private readonly spec: AlertPathSpec,
    /** Told of every evaluation: its time, the inputs it read and the alerts firing after it. */
    private readonly onEvaluation?: (t: number, inputs: RuleInputs, firing: PrescaleAlert[]) => void,
  ) {}

  /** The evaluations due by `now` (at multiples of the interval), each on the inputs Prometheus has then. */
  evaluate(now: number, inputsAt: (t: number) => RuleInputs): void {
    const every = this.spec.evaluationIntervalSeconds;
    this.nextEvaluation ??= Math.ceil(now / every) * every;
    for (; this.nextEvaluation <= now; this.nextEvaluation += every) {
      const te = this.nextEvaluation;
      const inputs = inputsAt(te);
      const holds = conditions(inputs);
      for (const alert of PRESCALE_ALERTS) {
        const r = this.rules.get(alert)!;
        if (holds[alert]) {
          r.activeAt ??= te;
          // Prometheus: a pending alert fires at the first evaluation at least `for` after it became active.
          if (!r.firing && te - r.activeAt >= this.spec.forSeconds[alert]) {
            r.firing = true;
            this.fired++;
            this.receive(te, alert, 'firing', r.activeAt);
          }
        } else if (r.activeAt !== undefined) {
          if (r.firing) this.receive(te, alert, 'resolved', r.activeAt);
          r.activeAt = undefined;
          r.firing = false;
        }
      }
      this.onEvaluation?.(te, inputs, PRESCALE_ALERTS.filter((a) => this.rules.get(a)!.firing));
    }
  }

  /** Prometheus sends a state change to Alertmanager at once; a new group flushes after group_wait. */
  private receive(t: number, alert: PrescaleAlert, status: 'firing' | 'resolved', startsAt: number): void {
    this.received.set(alert, { status, startsAt });
    if (this.nextFlush === undefined) this.nextFlush = t + this.spec.groupWaitSeconds;
  }

  /** The notifications Alertmanager sends by `now`: at each flush of the group where its alerts changed since the last one sent. */
  notifications(now: number): Notification[] {
    const out: Notification[] = [];
    while (this.nextFlush !== undefined && this.nextFlush <= now) {
      const at = this.nextFlush;
      const state = new Map([...this.received].map(([a, r]) => [a, `${r.status}@${r.startsAt}`]));
      const changed = state.size !== this.notified.size || [...state].some(([a, s]) => this.notified.get(a) !== s);
      if (changed) {
        out.push({ at, alerts: [...this.received].map(([alert, r]) => ({ alert, ...r })) });
        this.notified = state;
      }
      // A group whose alerts are all resolved and notified is deleted; the next firing starts a new one.
      if ([...this.received.values()].every((r) => r.status === 'resolved')) {
        this.received.clear();
        this.notified = new Map();
        this.nextFlush = undefined;
      } else this.nextFlush = at + this.spec.groupIntervalSeconds;
    }
    return out;
  }

  /** Whether the alert fires in Prometheus now. */
  firing(alert: PrescaleAlert): boolean {
    return this.rules.get(alert)!.firing;
  }


}

/** The receiver's memory of one workload and its decision, fed the notifications as they arrive. */
export class ReceiverPrescale {
  private memory: WorkloadMemory = emptyMemory();
  /** Floor writes the decision asked for (changes of the desired floor). */
  floorWrites = 0;
  private lastFloor: number;

  constructor(private readonly limits: Limits) {
    this.lastFloor = limits.primary.minReplicas;
  }

  /** The webhook: the group's alerts recorded as the receiver records them (fingerprint = alert name and reason). */
  receive(n: Notification, nowMs: number): void {
    this.memory = recordAlerts(
      this.memory,
      n.alerts.map((a) => {
        const [alertname, reason] = a.alert.split('/');
        return { fingerprint: a.alert, alertname, action: 'prescale' as AlertAction, ...(reason ? { reason } : {}), status: a.status, startsAt: new Date(a.startsAt * 1000).toISOString() };
      }),
      nowMs,
    );
  }

  /** The receiver's reconciliation: the floor of the HPA and the shadow pool it wants now. */
  desired(nowMs: number, plan: PlanSnapshot | undefined): { floor: number; pool: number; episode: boolean } {
    if (Object.keys(this.memory.alerts).length === 0 && !this.memory.prescalePlan) {
      return { floor: this.limits.primary.minReplicas, pool: this.limits.shadow.minReplicas, episode: false };
    }
    const d = decide(this.memory, this.limits, { now: nowMs, shadowReady: true }, plan);
    this.memory = d.memory;
    if (d.desired.floor !== this.lastFloor) {
      this.floorWrites++;
      this.lastFloor = d.desired.floor;
    }
    return { floor: d.desired.floor, pool: d.desired.pool, episode: this.memory.prescalePlan !== undefined };
  }
}
