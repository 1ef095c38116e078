/**
 * Webhooks answer on the intent, not on the reconciliation: with Prometheus unreachable (the receiver's
 * plan and readiness lookups retry for seconds), valid webhooks are recorded and answered at once; the
 * reconciliation waits and retries on its own. The receiver's Prometheus is a real closed port; the
 * cluster is a minimal target that records what it is asked (the Kubernetes path has its own tests).
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseConfig } from '../core/config.ts';
import type { ObservedState } from '../core/promotion/promotion.ts';
import { MemoryAudit } from './audit.ts';
import { startReceiver, type RunningReceiver } from './service.ts';
import { InMemoryStore } from './store.ts';
import type { ActionStep, WorkloadCluster } from '../actuators/target.ts';

const config = parseConfig(`
prometheus: { url: "http://127.0.0.1:9", timeout: 1s }
receiver: { listen: "127.0.0.1:0", resync: 1h }
workloads:
  - name: checkout
    namespace: shop
    capacityPerReplica: 50
    primary: { name: checkout, minReplicas: 2, maxReplicas: 6 }
    shadow: { name: checkout-shadow, minReplicas: 1, maxReplicas: 3 }
`);

const applied: ActionStep[] = [];
const cluster: WorkloadCluster = {
  canRoute: true,
  async observe(): Promise<ObservedState> {
    return { replicas: { checkout: { spec: 2, ready: 2 }, 'checkout-shadow': { spec: 1, ready: 1 } }, autoscaler: { target: 'checkout', minReplicas: 2 }, route: { active: 'checkout', mirror: 'checkout-shadow', mirrorPercent: 10 } };
  },
  async apply(step) {
    applied.push(step);
  },
};

let running: RunningReceiver;
const store = new InMemoryStore();

beforeAll(async () => {
  running = await startReceiver(config, { store, cluster: () => cluster, audit: new MemoryAudit(), logger: pino({ level: 'silent' }), noResync: true });
});
afterAll(async () => running?.stop());

const webhook = (i: number, action: string) => ({
  version: '4',
  groupKey: 'g',
  status: 'firing',
  receiver: 'shadowscale',
  alerts: [{ status: 'firing', labels: { alertname: `A${i}`, namespace: 'shop', workload: 'checkout', shadowscale_action: action }, annotations: {}, startsAt: new Date().toISOString(), fingerprint: `f${i}` }],
});

describe('the receiver while Prometheus is unreachable', () => {
  it('answers 100 valid webhooks for one workload each in under 100 ms (p99), and keeps every alert', async () => {
    const took: number[] = [];
    for (let i = 0; i < 100; i++) {
      const started = performance.now();
      const res = await fetch(`${running.url}/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(webhook(i, i % 2 === 0 ? 'prescale' : 'promote')) });
      took.push(performance.now() - started);
      expect(res.status).toBe(200);
    }
    took.sort((a, b) => a - b);
    const p99 = took[Math.ceil(0.99 * took.length) - 1];
    expect(p99).toBeLessThan(100);
    const memory = await store.load('shop/checkout');
    expect(Object.keys(memory.alerts)).toHaveLength(100);
    // Meanwhile the reconciliation is still waiting on Prometheus: nothing was applied blindly (no
    // plan: the floor stays; no readiness: no promotion).
    expect(applied.filter((s) => s.kind === 'route')).toEqual([]);
  }, 60_000);
});
