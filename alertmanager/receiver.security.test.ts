/**
 * Security of the receiver's memory and webhook edge, against the in-test API server (which, like the
 * real one, refuses a ConfigMap above 1 MiB): oversized or unbounded webhooks are refused with the limit
 * named and leave the state as it was, so the webhooks after them still act; a follower forwards only
 * to a leader address the leader's own Pod confirms; /status needs the token.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { parseConfig } from '../core/config.ts';
import { MAX_ALERTS_PER_WORKLOAD } from '../core/promotion/promotion.ts';
import { FakeKubeApi } from '../test/harness/kube-api.ts';
import { MemoryAudit } from './audit.ts';
import { createKubeApis, kubeConfigFor } from '../platform/kubernetes.ts';
import { LeaseElector } from './lease.ts';
import { startReceiver, type RunningReceiver } from './service.ts';
import type { SignalSource } from './signals.ts';

const NS = 'shop';
const HPA = `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/checkout`;
const STATE = '/api/v1/namespaces/shadowscale/configmaps/shadowscale-receiver-state-shop-checkout';
const TOKEN = 'a-long-enough-token-for-the-test';

const config = parseConfig(`
prometheus: { url: http://127.0.0.1:9 }
receiver:
  listen: "127.0.0.1:0"
  tokenEnv: RECEIVER_TOKEN
  resync: 1h
  kubernetes: { requestTimeout: 1s, retries: 1 }
  leaderElection: { namespace: shadowscale }
workloads:
  - name: checkout
    namespace: shop
    load: up
    capacityPerReplica: 50
    primary: { name: checkout, minReplicas: 2, maxReplicas: 20 }
    shadow: { name: checkout-shadow, minReplicas: 1, maxReplicas: 5, mirrorPercent: 10 }
    autoscaler: { kind: HorizontalPodAutoscaler }
    router: { kind: HTTPRoute, name: checkout, port: 8080 }
`);
const signals: SignalSource = { shadowReady: async () => true, plan: async () => ({ desiredReplicas: 8, shadowPoolSize: 3 }) };

let api: FakeKubeApi;
let running: RunningReceiver;

const alert = (fingerprint: string, alertname: string, labels: Record<string, string> = {}) => ({
  status: 'firing',
  labels: { alertname, namespace: NS, workload: 'checkout', shadowscale_action: 'prescale', ...labels },
  annotations: {},
  startsAt: new Date().toISOString(),
  fingerprint,
});
async function post(alerts: unknown[]): Promise<{ status: number; body: any }> {
  const res = await fetch(`${running.url}/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ version: '4', groupKey: 'g', status: 'firing', receiver: 'shadowscale', alerts }),
  });
  return { status: res.status, body: await res.json() };
}

beforeEach(async () => {
  api = new FakeKubeApi();
  await api.start();
  api.deployment(NS, 'checkout', 6);
  api.deployment(NS, 'checkout-shadow', 1);
  api.hpa(NS, 'checkout', 'checkout', 2, 20, { metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }] });
  api.put(`/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/checkout`, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'checkout', namespace: NS, generation: 1 },
    spec: { rules: [{ backendRefs: [{ name: 'checkout', port: 8080 }], filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'checkout-shadow', port: 8080 }, percent: 10 } }] }] },
  });
  running = await startReceiver(config, { env: { RECEIVER_TOKEN: TOKEN }, kubeConfig: kubeConfigFor(api.url), signals, audit: new MemoryAudit(), logger: pino({ level: 'silent' }), noResync: true, leadership: { isLeader: () => true, leaderAddress: () => undefined } });
});
afterEach(async () => {
  await running?.stop();
  await api?.stop();
});

describe('a webhook cannot fill the state', () => {
  it('refuses webhooks of ~975 KB that would grow a workload past the bound, and the next webhook still acts', async () => {
    // 2,000 distinct firing alerts with 120-character fingerprints and 200-character names: ~975 KB.
    const flood = Array.from({ length: 2000 }, (_, i) => alert(`${i}`.padStart(120, 'f'), `Flood${i}`.padEnd(200, 'x')));
    expect(JSON.stringify(flood).length).toBeGreaterThan(900_000);
    for (let i = 0; i < 3; i++) {
      const { status, body } = await post(flood);
      expect(status).toBe(413);
      expect(body.error).toBe(`workload shop/checkout: 2000 firing alerts for one workload, above the limit of ${MAX_ALERTS_PER_WORKLOAD} alert records per workload; its alerts in this webhook were not recorded`);
    }
    // A label the receiver keeps, longer than a Kubernetes label value: 400, naming it.
    const long = await post([alert('f1', 'A'.repeat(300))]);
    expect(long.status).toBe(400);
    expect(long.body.error).toMatch(/alerts\[0\]\.labels\.alertname: 300 characters, above the limit of 253/);
    // The state stayed small, and a real alert is recorded and acted on.
    const { status } = await post([alert('real', 'ShadowscaleLoadAnomaly')]);
    expect(status).toBe(200);
    await running.receiver.idle();
    expect(api.get(STATE).data['memory.json'].length).toBeLessThan(2000);
    expect(api.get(HPA).spec.minReplicas).toBe(8);
  });

  it('forgets resolved alerts first when a workload reaches the bound', async () => {
    const resolved = Array.from({ length: MAX_ALERTS_PER_WORKLOAD }, (_, i) => ({ ...alert(`r${i}`, 'Old'), status: 'resolved' }));
    expect((await post(resolved)).status).toBe(200);
    expect((await post([alert('new', 'ShadowscaleLoadAnomaly')])).status).toBe(200);
    await running.receiver.idle();
    const memory = JSON.parse(api.get(STATE).data['memory.json']);
    expect(Object.keys(memory.alerts)).toHaveLength(MAX_ALERTS_PER_WORKLOAD);
    expect(memory.alerts.new.status).toBe('firing');
    expect(memory.alerts.r0).toBeUndefined();
  });
});

describe('forwarding to the leader and the status endpoint', () => {
  const LEASE = '/apis/coordination.k8s.io/v1/namespaces/shadowscale/leases/shadowscale-receiver';
  const pod = (name: string, podIP: string) =>
    api.put(`/api/v1/namespaces/shadowscale/pods/${name}`, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shadowscale' }, status: { phase: 'Running', podIP, podIPs: [{ ip: podIP }] } });
  const lease = (holder: string, address: string) =>
    api.put(LEASE, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'shadowscale-receiver', namespace: 'shadowscale', annotations: { 'shadowscale.io/receiver-address': address } },
      spec: { holderIdentity: holder, leaseDurationSeconds: 15, renewTime: new Date().toISOString().replace('Z', '000Z') },
    });

  it("forwards only to the address the leader's own Pod confirms", async () => {
    const apis = createKubeApis(kubeConfigFor(api.url), { timeoutMs: 1000, retries: 0 });
    const follower = new LeaseElector(apis, { namespace: 'shadowscale', name: 'shadowscale-receiver', identity: 'receiver-b', leaseDurationSeconds: 15, retryPeriodSeconds: 2, confirmPort: 8081 });
    pod('receiver-a', '10.0.0.1');
    // Someone who may write the Lease points followers (and Alertmanager's token) elsewhere.
    lease('receiver-a', '203.0.113.9:8081');
    await follower.tryOnce();
    expect(follower.leaderAddress()).toBeUndefined();
    expect(follower.unconfirmed()).toBe('the Lease names 203.0.113.9:8081, but Pod shadowscale/receiver-a has 10.0.0.1');
    lease('receiver-a', '10.0.0.1:9999');
    await follower.tryOnce();
    expect(follower.unconfirmed()).toBe("the Lease names 10.0.0.1:9999, not the receivers' port 8081");
    lease('someone', '10.0.0.7:8081');
    await follower.tryOnce();
    expect(follower.unconfirmed()).toBe("the Lease's holder someone is not a Pod of shadowscale");
    lease('receiver-a', '10.0.0.1:8081');
    await follower.tryOnce();
    expect(follower.leaderAddress()).toBe('10.0.0.1:8081');
  });

  it('answers /status only with the token', async () => {
    expect((await fetch(`${running.url}/status`)).status).toBe(401);
    const ok = await fetch(`${running.url}/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ leader: true });
  });
});
