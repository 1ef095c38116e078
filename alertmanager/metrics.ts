/** The receiver's own metrics (`shadowscale_receiver_*`), declared in one place. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type WebhookOutcome = 'accepted' | 'duplicate' | 'unauthorized' | 'invalid' | 'too_large' | 'unavailable' | 'forwarded';
export type ActionResult = 'success' | 'error' | 'dry_run' | 'disabled';

export interface ReceiverMetrics {
  registry: Registry;
  webhook(outcome: WebhookOutcome): void;
  alert(action: string, status: string): void;
  action(kind: string, result: ActionResult, namespace: string, workload: string): void;
  receiptToCall(seconds: number): void;
  reconcileError(namespace: string, workload: string): void;
  desired(namespace: string, workload: string, d: { floor: number; pool: number; swapped: boolean }): void;
  leader(isLeader: boolean): void;
  /** The standby set's replicas as last observed, and their cost since the previous observation. */
  shadows(namespace: string, workload: string, replicas: number, costReplicaSeconds: number): void;
  /** The share of a workload's live traffic its route sends to the standby set (spill-over). */
  spill(namespace: string, workload: string, share: number): void;
  /** Where `shadowscale_workload_serving_share` is read from at each scrape (the receiver's memory; empty on a follower). */
  servingShares(source: () => ServingShare[]): void;
}

/** The share of a workload's live traffic one of its sets (Deployments) serves: 1 serving, 0 standing by. */
export interface ServingShare {
  namespace: string;
  workload: string;
  deployment: string;
  share: number;
}

export function createReceiverMetrics(dryRun: boolean): ReceiverMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'shadowscale_receiver_process_' });
  const webhooks = new Counter({
    name: 'shadowscale_receiver_webhooks_total',
    help: 'Alertmanager webhooks received, by outcome (accepted: new alerts recorded; duplicate: nothing new; unavailable: answered 503 so Alertmanager retries).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const alerts = new Counter({
    name: 'shadowscale_receiver_alerts_total',
    help: 'Alert notifications that changed the receiver memory, by shadowscale_action and status.',
    labelNames: ['action', 'status'],
    registers: [registry],
  });
  const actions = new Counter({
    name: 'shadowscale_receiver_actions_total',
    help: 'Steps taken towards a desired state (scale, route, autoscaler), by result (dry_run: logged only; disabled: workload actions switched off).',
    labelNames: ['namespace', 'workload', 'kind', 'result'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'shadowscale_receiver_receipt_to_api_call_seconds',
    help: 'Time from receiving a webhook that changed a desired state to the first API call made for it.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'shadowscale_receiver_reconcile_errors_total',
    help: 'Reconciliations that failed (API errors after retries, state not recorded); retried at the next resync.',
    labelNames: ['namespace', 'workload'],
    registers: [registry],
  });
  const floor = new Gauge({ name: 'shadowscale_receiver_desired_floor', help: 'Desired autoscaler floor (minReplicas) of the serving set.', labelNames: ['namespace', 'workload'], registers: [registry] });
  const pool = new Gauge({ name: 'shadowscale_receiver_desired_pool', help: 'Desired replicas of the standby (shadow) set.', labelNames: ['namespace', 'workload'], registers: [registry] });
  const swapped = new Gauge({ name: 'shadowscale_receiver_promoted', help: '1 while the configured shadow serves the traffic (promoted), 0 otherwise.', labelNames: ['namespace', 'workload'], registers: [registry] });
  const shadowReplicas = new Gauge({ name: 'shadowscale_shadow_replicas', help: 'Replicas of the standby (shadow) set, as last observed by the receiver.', labelNames: ['namespace', 'workload'], registers: [registry] });
  const shadowCost = new Counter({
    name: 'shadowscale_shadow_cost_replica_seconds_total',
    help: 'What the shadows cost: replica-seconds of the standby set times its resource fraction (a shadow at half the resources costs half a replica-second per second).',
    labelNames: ['namespace', 'workload'],
    registers: [registry],
  });
  const spill = new Gauge({
    name: 'shadowscale_receiver_spill_share',
    help: 'Share of the workload\'s live traffic its route is to send to the standby set (spill-over, while the serving set is short of the plan), as last decided by the leader.',
    labelNames: ['namespace', 'workload'],
    registers: [registry],
  });
  let shares: () => ServingShare[] = () => [];
  new Gauge({
    name: 'shadowscale_workload_serving_share',
    help: 'Share of the workload\'s live traffic each of its Deployments serves (1: it serves, the primary; 0: it stands by, the shadow; between them during a spill-over), from the receiver\'s memory; changes in the step that moves traffic. Exported by the leader only. The recording rules join it onto traffic keyed by deployment.',
    labelNames: ['namespace', 'workload', 'deployment'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of shares()) this.set({ namespace: s.namespace, workload: s.workload, deployment: s.deployment }, s.share);
    },
  });
  const leader = new Gauge({ name: 'shadowscale_receiver_leader', help: '1 when this replica is the one that acts.', registers: [registry] });
  new Gauge({ name: 'shadowscale_receiver_dry_run', help: '1 when the receiver only logs what it would do.', registers: [registry] }).set(dryRun ? 1 : 0);
  for (const outcome of ['accepted', 'duplicate', 'unauthorized', 'invalid', 'too_large', 'unavailable', 'forwarded']) webhooks.inc({ outcome }, 0);

  return {
    registry,
    webhook: (outcome) => webhooks.inc({ outcome }),
    alert: (action, status) => alerts.inc({ action, status }),
    action: (kind, result, namespace, workload) => actions.inc({ namespace, workload, kind, result }),
    receiptToCall: (seconds) => latency.observe(seconds),
    reconcileError: (namespace, workload) => errors.inc({ namespace, workload }),
    desired: (namespace, workload, d) => {
      floor.set({ namespace, workload }, d.floor);
      pool.set({ namespace, workload }, d.pool);
      swapped.set({ namespace, workload }, d.swapped ? 1 : 0);
    },
    leader: (isLeader) => leader.set(isLeader ? 1 : 0),
    servingShares: (source) => {
      shares = source;
    },
    spill: (namespace, workload, share) => spill.set({ namespace, workload }, share),
    shadows: (namespace, workload, replicas, cost) => {
      shadowReplicas.set({ namespace, workload }, replicas);
      if (cost > 0) shadowCost.inc({ namespace, workload }, cost);
    },
  };
}
