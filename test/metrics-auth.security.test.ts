/**
 * Security of /metrics on both services: with `kubernetes` authentication, a scrape needs a bearer
 * token that the cluster authenticates (TokenReview) and whose user RBAC lets `get` the non-resource
 * URL /metrics (SubjectAccessReview), as Kubernetes' own components guard theirs; the in-test API
 * server plays the cluster's authenticator and authorizer. Without it (the default), /metrics stays
 * open, as before.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startAdapter, type RunningAdapter } from '../adapter/server.ts';
import { MemoryAudit } from '../alertmanager/audit.ts';
import { kubeConfigFor } from '../platform/kubernetes.ts';
import { startReceiver, type RunningReceiver } from '../alertmanager/service.ts';
import { parseConfig } from '../core/config.ts';
import { FakeKubeApi } from './harness/kube-api.ts';

const PROMETHEUS_TOKEN = 'prometheus-service-account-token';
const OTHER_TOKEN = 'another-pod-service-account-token';
const PROMETHEUS_USER = 'system:serviceaccount:monitoring:prometheus-k8s';

let api: FakeKubeApi;
let adapter: RunningAdapter;
let receiver: RunningReceiver;
let openAdapter: RunningAdapter;

const config = (metrics: 'none' | 'kubernetes') =>
  parseConfig(`
prometheus: { url: http://127.0.0.1:9, timeout: 1s }
adapter:
  listen: { http: "127.0.0.1:0" }
  authentication: { metrics: ${metrics} }
receiver:
  listen: "127.0.0.1:0"
  target: local
  metricsAuthentication: ${metrics}
workloads:
  - name: checkout
    namespace: shop
    load: sum(rate(http_requests_total[1m]))
    capacityPerReplica: 50
    primary: { name: checkout, maxReplicas: 10 }
`);

beforeAll(async () => {
  api = new FakeKubeApi();
  await api.start();
  // The cluster: two ServiceAccount tokens; RBAC lets only Prometheus get /metrics.
  api.authenticate = (token) =>
    token === PROMETHEUS_TOKEN ? { username: PROMETHEUS_USER, groups: ['system:serviceaccounts'] } : token === OTHER_TOKEN ? { username: 'system:serviceaccount:shop:default' } : undefined;
  api.authorize = (spec) => spec.user === PROMETHEUS_USER && spec.nonResourceAttributes?.path === '/metrics' && spec.nonResourceAttributes?.verb === 'get';
  const kubeConfig = kubeConfigFor(api.url);
  adapter = await startAdapter(config('kubernetes'), { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true, kubeConfig });
  openAdapter = await startAdapter(config('none'), { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true, kubeConfig });
  receiver = await startReceiver(config('kubernetes'), { kubeConfig, audit: new MemoryAudit(), logger: pino({ level: 'silent' }), noResync: true, signals: { shadowReady: async () => true, plan: async () => undefined } });
}, 60_000);
afterAll(async () => {
  await adapter?.stop();
  await openAdapter?.stop();
  await receiver?.stop();
  await api?.stop();
});

const scrape = (url: string, token?: string) => fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('/metrics is read only by who the cluster says may read it', () => {
  for (const [name, url] of [
    ['adapter', () => adapter.httpUrl],
    ['receiver', () => receiver.url],
  ] as const) {
    it(`${name}: 401 without a token or with one the cluster does not know, 403 for a user RBAC refuses, 200 for Prometheus`, async () => {
      const none = await scrape(url());
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="shadowscale-/);
      expect((await scrape(url(), 'forged')).status).toBe(401);
      const refused = await scrape(url(), OTHER_TOKEN);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('User "system:serviceaccount:shop:default" cannot get path "/metrics"');
      const ok = await scrape(url(), PROMETHEUS_TOKEN);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/^# HELP /m);
      // Probes stay open: the kubelet sends no token.
      expect((await fetch(`${url()}/healthz`)).status).toBe(200);
    });
  }

  it('asks the cluster once per token within 10 s', async () => {
    const before = api.requests.filter((r) => r.path.endsWith('/tokenreviews')).length;
    for (let i = 0; i < 5; i++) expect((await scrape(adapter.httpUrl, PROMETHEUS_TOKEN)).status).toBe(200);
    expect(api.requests.filter((r) => r.path.endsWith('/tokenreviews')).length).toBe(before);
  });

  it('answers 503 (Prometheus retries) while the API server cannot be asked', async () => {
    const down = new FakeKubeApi();
    await down.start();
    const kubeConfig = kubeConfigFor(down.url);
    const a = await startAdapter(config('kubernetes'), { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true, kubeConfig });
    await down.stop();
    try {
      const res = await scrape(a.httpUrl, PROMETHEUS_TOKEN);
      expect(res.status).toBe(503);
      expect(await res.text()).toMatch(/cannot authenticate the scrape right now/);
    } finally {
      await a.stop();
    }
  });

  it('stays open with the default (none)', async () => {
    expect((await scrape(openAdapter.httpUrl)).status).toBe(200);
  });
});
