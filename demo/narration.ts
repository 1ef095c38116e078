/**
 * What the demo tells: the receiver's actions as events (pre-scale, promotion, revert, restart), the
 * live view every few seconds, the alerts as they change, why nothing reverted when that happens, and
 * the summary. It reads; it decides nothing.
 */
import type { ActionStep } from '../actuators/target.ts';
import type { AuditEvent } from '../alertmanager/audit.ts';
import type { DesiredState } from '../core/promotion/promotion.ts';
import type { PrometheusClient } from '../platform/prometheus.ts';
import { PRIMARY, SHADOW, WORKLOAD, type DemoStack } from './stack.ts';

export interface DemoEvent {
  /** Wall seconds since the start. */
  t: number;
  kind: 'prescale' | 'promote' | 'revert' | 'restart' | 'scale' | 'spill' | 'alert' | 'degrade' | 'surge';
  text: string;
}

export interface DemoSummary {
  offered: number;
  unserved: number;
  unservedFraction: number;
  p99Seconds: number;
  p50Seconds: number;
  replicaSeconds: number;
  actions: Record<string, number>;
  promotions: number;
  reverts: number;
  prescales: number;
  /** Spill-over: changes of the share, the highest share, requests sent live to the shadows, seconds with a share in force. */
  spill: { changes: number; maxShare: number; requests: number; seconds: number };
}

export const n = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
export const fmtClock = (t: number) => `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(Math.floor(t % 60)).padStart(2, '0')}`;

/** The events of a run, timed from its start, each printed as it happens. */
export class EventLog {
  readonly events: DemoEvent[] = [];

  constructor(
    private readonly elapsed: () => number,
    private readonly print: (line: string) => void,
  ) {}

  add(kind: DemoEvent['kind'], text: string): void {
    this.events.push({ t: this.elapsed(), kind, text });
    this.print(`  ${fmtClock(this.elapsed())}  » ${text}`);
  }

  count(kind: DemoEvent['kind']): number {
    return this.events.filter((e) => e.kind === kind).length;
  }
}

/**
 * Tells the receiver's actions as the demo's events, from the steps' fields and the desired state
 * they serve: a floor raised on the same autoscaler, or the standby grown to the desired pool, is a
 * pre-scale; a route change is a promotion or a revert.
 */
export class Narrator {
  private desired?: DesiredState;
  private target = PRIMARY;
  /** The route last written splits traffic (a spill-over): its next whole write ends it, not a revert. */
  private spilling = false;

  constructor(
    private readonly log: EventLog,
    private floor: number,
    private pool: number,
  ) {}

  /** The receiver's audit events, as they are recorded. */
  record(e: AuditEvent): void {
    if (e.event === 'decision') this.desired = e.after as DesiredState;
    if (e.event === 'action' && e.result === 'success') this.acted(e.step as ActionStep);
    if (e.event === 'spill') {
      const pct = (x: number) => `${Math.round(x * 100)} %`;
      this.log.add('spill', e.after > 0 ? `spill-over: ${pct(e.after)} of live traffic to ${SHADOW} (was ${pct(e.before)}): ${e.why}` : `spill-over ends: all traffic to ${PRIMARY} (was ${pct(e.before)}): ${e.why}`);
    }
  }

  private acted(step: ActionStep): void {
    switch (step.kind) {
      case 'route':
        // A split of the serving set's route is told as the spill-over it carries out (above).
        if (step.active === PRIMARY && (step.spill > 0 || this.spilling)) {
          this.spilling = step.spill > 0;
          return;
        }
        this.spilling = false;
        if (step.active === SHADOW) this.log.add('promote', `promotion: traffic moves to ${SHADOW}, ${PRIMARY} becomes the shadow`);
        else this.log.add('revert', `revert: traffic back to ${PRIMARY}`);
        return;
      case 'autoscaler': {
        const raised = step.target === this.target && step.minReplicas > this.floor;
        this.log.add(raised ? 'prescale' : 'scale', raised ? `pre-scale: HPA floor ${this.floor} → ${step.minReplicas}` : `receiver: ${step.why}`);
        this.floor = step.minReplicas;
        this.target = step.target;
        return;
      }
      case 'scale': {
        const standby = this.desired?.standby === step.set;
        const raised = standby && step.replicas > this.pool;
        this.log.add(raised ? 'prescale' : 'scale', raised ? `pre-scale: shadow pool ${step.set} ${this.pool} → ${step.replicas}` : `receiver: ${step.why}`);
        if (standby) this.pool = step.replicas;
        return;
      }
      case 'restart':
        this.log.add('restart', `restart of the degraded shadow ${step.set}`);
        return;
    }
  }
}

/** One line of the live view: the load and what shadowscale makes of it. */
export async function liveLine(stack: DemoStack, at: { clock: number; traceTime: Date; offeredRps: number; unserved: number }): Promise<string> {
  const q = async (expr: string) => (await stack.prom!.query(expr).catch(() => []))[0]?.value;
  const [observed, forecast, upper, desired] = await Promise.all([
    q(`shadowscale_observed_load{workload="${WORKLOAD}"}`),
    q(`shadowscale_forecast_load{workload="${WORKLOAD}",quantile="0.5"}`),
    q(`shadowscale_forecast_load{workload="${WORKLOAD}",quantile="0.975"}`),
    q(`shadowscale_desired_replicas{workload="${WORKLOAD}"}`),
  ]);
  const c = stack.cluster!;
  return (
    `  ${fmtClock(at.clock)}  ${at.traceTime.toISOString().slice(5, 16).replace('T', ' ')}  load ${n(at.offeredRps)} rps (seen ${n(observed)})  forecast ${n(forecast)} ≤${n(upper)}  ` +
    `primary ${c.pool(PRIMARY).ready}/${c.pool(PRIMARY).spec}  shadow ${c.pool(SHADOW).ready}/${c.pool(SHADOW).spec}  desired ${n(desired)}  serving ${c.proxy.state.active}` +
    `${c.proxy.state.spill ? ` (${Math.round(c.proxy.state.spill * 100)} % spilled to ${c.proxy.state.mirror})` : ''}  unserved ${at.unserved}`
  );
}

/** Watches the workload's firing alerts: an event when the set changes, when each first fired, and MirrorBroken after a promotion. */
export class AlertWatch {
  readonly firstFiring: Record<string, number> = {};
  /** Checks that saw ShadowscaleMirrorBroken firing after the first promotion. */
  mirrorBrokenAfterPromotion = 0;
  private last = '';

  constructor(
    private readonly prom: PrometheusClient,
    private readonly log: EventLog,
    private readonly elapsed: () => number,
  ) {}

  async check(stopping: () => boolean): Promise<void> {
    const alerts = (await this.prom.query(`ALERTS{alertstate="firing",workload="${WORKLOAD}"}`).catch(() => [])).map((a) => a.labels.alertname.replace('Shadowscale', '')).sort();
    if (stopping()) return;
    const text = [...new Set(alerts)].join(',');
    for (const a of alerts) this.firstFiring[`Shadowscale${a}`] ??= this.elapsed();
    // The KPIs follow the roles: once a promotion has moved the traffic, the mirror must still look whole.
    if (alerts.includes('MirrorBroken') && this.log.count('promote') > 0) this.mirrorBrokenAfterPromotion++;
    if (text !== this.last) {
      this.log.add('alert', `alerts firing: ${text || 'none'}`);
      this.last = text;
    }
  }
}

/** Why the workload has not reverted: the standby's readiness (which gates the revert) and the receiver's last reasons. */
export async function whyNotReverted(prom: PrometheusClient, audit: readonly AuditEvent[], latencyRatioMax: number | undefined): Promise<string> {
  const kpi = async (name: string) => n((await prom.query(`${name}{workload="${WORKLOAD}"}`).catch(() => []))[0]?.value);
  const [ready, healthy, latency, coverage, errors] = await Promise.all(
    ['shadowscale:shadow_ready:bool', 'shadowscale:shadow_healthy:bool', 'shadowscale:shadow_latency_p99:ratio_rate5m', 'shadowscale:mirror_coverage:ratio_rate5m', 'shadowscale:shadow_error_ratio:diff_rate5m'].map(kpi),
  );
  const last = [...audit].reverse().find((e) => e.event === 'decision') as { reasons?: string[] } | undefined;
  return `standby ready ${ready}, healthy ${healthy} (latency p99 ratio ${latency} ≤ ${latencyRatioMax ?? '–'}, mirror coverage ${coverage}, error ratio diff ${errors}); receiver: ${last?.reasons?.join('; ') || 'no reason given'}`;
}

/** The summary's lines. */
export function summaryLines(summary: DemoSummary, how: { noShadow: boolean; errors: number; timeouts: number; dropped: number; timeoutMs: number; loadQuery: string; mirrorBrokenAfterPromotion: number }): string[] {
  const lines = [
    '',
    `summary (${how.noShadow ? 'reactive HPA only' : 'shadowscale'}): ${summary.offered} requests offered, ${summary.unserved} unserved (${(summary.unservedFraction * 100).toFixed(2)} %: ${how.errors} errors, ${how.timeouts} timeouts, ${how.dropped} dropped)`,
    `  latency p50 ${(summary.p50Seconds * 1000).toFixed(0)} ms, p99 ${(summary.p99Seconds * 1000).toFixed(0)} ms (timeouts count as ${how.timeoutMs} ms); ${summary.replicaSeconds} replica-seconds`,
    `  actions: ${Object.entries(summary.actions).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}; pre-scales ${summary.prescales}, promotions ${summary.promotions}, reverts ${summary.reverts}`,
    ...(how.noShadow
      ? []
      : summary.spill.changes > 0
        ? [`  spill-over: ${summary.spill.changes} changes of the share, up to ${Math.round(summary.spill.maxShare * 100)} %, ${summary.spill.requests} requests served live by the shadows over ${summary.spill.seconds} s`]
        : ['  spill-over: none (the serving set had what the plan asked for, or the shadows were not ready)']),
    `  forecast from ${how.loadQuery} (the recorded served load: the serving set's requests, whichever Deployment serves)`,
  ];
  if (summary.promotions > 0) lines.push(`  ShadowscaleMirrorBroken after the promotion: ${how.mirrorBrokenAfterPromotion === 0 ? 'never fired (the KPIs follow the roles)' : `firing at ${how.mirrorBrokenAfterPromotion} checks`}`);
  return lines;
}
