/**
 * Security of the external metrics API as an aggregated API server: the front-proxy guard cannot be
 * bypassed by the letter case of the path (Express matches routes case-insensitively by default), and
 * the user the front proxy names is authorized by the cluster through a SubjectAccessReview (the
 * in-test API server plays the cluster's authorizer), cached briefly, with 401/403 as the API server
 * libraries answer.
 */
import https from 'node:https';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { kubeConfigFor } from '../platform/kubernetes.ts';
import { parseConfig } from '../core/config.ts';
import { ca, clientCert, type Pems } from '../test/harness/certs.ts';
import { FakeKubeApi } from '../test/harness/kube-api.ts';
import { startAdapter, type RunningAdapter } from './server.ts';

const METRIC = '/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/shadowscale_desired_replicas';
const HPA_USER = 'system:serviceaccount:kube-system:horizontal-pod-autoscaler';
const SAR = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

let api: FakeKubeApi;
let adapter: RunningAdapter;
let proxy: Pems;

function get(path: string, options: { cert?: Pems; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${adapter.httpsUrl}${path}`, { rejectUnauthorized: false, headers: options.headers ?? {}, ...(options.cert ? { cert: options.cert.cert, key: options.cert.private } : {}) }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
  });
}

beforeAll(async () => {
  const frontProxyCa = await ca('front-proxy-ca');
  proxy = await clientCert('front-proxy-client', frontProxyCa);
  const caFile = join(mkdtempSync(join(tmpdir(), 'shadowscale-authz-')), 'ca.crt');
  writeFileSync(caFile, frontProxyCa.cert);
  api = new FakeKubeApi();
  await api.start();
  // The cluster's RBAC: the HPA controller may list external metrics in any namespace; everyone
  // authenticated may read discovery paths.
  api.authorize = (spec) =>
    spec.resourceAttributes ? spec.user === HPA_USER && spec.resourceAttributes.verb === 'list' && spec.resourceAttributes.group === 'external.metrics.k8s.io' : spec.groups?.includes('system:authenticated');
  const config = parseConfig(`
prometheus: { url: http://127.0.0.1:9, timeout: 1s }
adapter:
  listen: { http: "127.0.0.1:0", https: "127.0.0.1:0" }
  authentication: { requestHeader: file, clientCAFile: ${JSON.stringify(caFile)}, allowedNames: [front-proxy-client] }
workloads:
  - name: checkout
    namespace: shop
    load: sum(rate(http_requests_total[1m]))
    capacityPerReplica: 50
    primary: { name: checkout, maxReplicas: 10 }
`);
  adapter = await startAdapter(config, { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true, kubeConfig: kubeConfigFor(api.url) });
}, 60_000);
afterAll(async () => {
  await adapter?.stop();
  await api?.stop();
});

describe('the aggregated API cannot be reached around the front proxy', () => {
  it('guards the path in any letter case, on both listeners', async () => {
    for (const path of [METRIC.replace('/apis/', '/APIS/'), METRIC.replace('/apis/', '/Apis/'), METRIC.toUpperCase(), '/OPENAPI/v2']) {
      expect((await fetch(`${adapter.httpUrl}${path}`)).status, `HTTP ${path}`).toBe(403);
      expect((await get(path)).status, `HTTPS ${path} without a certificate`).toBe(401);
    }
    // Past the guard, routes are exact: a proxied request in the wrong case finds nothing.
    const wrongCase = await get(METRIC.replace('/apis/', '/APIS/'), { cert: proxy, headers: { 'X-Remote-User': HPA_USER, 'X-Remote-Group': 'system:authenticated' } });
    expect(wrongCase.status).toBe(404);
  });
});

describe("the front proxy's user is authorized by the cluster", () => {
  it('answers the HPA controller and refuses another user with a Kubernetes 403', async () => {
    const reviews = () => api.requests.filter((r) => r.path === SAR);
    const before = reviews().length;
    const ok = await get(METRIC, { cert: proxy, headers: { 'X-Remote-User': HPA_USER, 'X-Remote-Group': 'system:serviceaccounts, system:authenticated', 'X-Remote-Extra-Scopes': 'a' } });
    expect(ok.status).not.toBe(401);
    expect(ok.status).not.toBe(403);
    expect(reviews().at(-1)!.body.spec).toEqual({
      user: HPA_USER,
      groups: ['system:serviceaccounts', 'system:authenticated'],
      extra: { scopes: ['a'] },
      resourceAttributes: { group: 'external.metrics.k8s.io', version: 'v1beta1', namespace: 'shop', resource: 'shadowscale_desired_replicas', verb: 'list' },
    });
    const denied = await get(METRIC, { cert: proxy, headers: { 'X-Remote-User': 'mallory', 'X-Remote-Group': 'system:authenticated' } });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({
      kind: 'Status',
      reason: 'Forbidden',
      message: 'external.metrics.k8s.io "shadowscale_desired_replicas" is forbidden: User "mallory" cannot list resource "shadowscale_desired_replicas" in API group "external.metrics.k8s.io" in the namespace "shop"',
    });
    // Discovery is a non-resource path every authenticated user may read.
    expect((await get('/apis/external.metrics.k8s.io/v1beta1', { cert: proxy, headers: { 'X-Remote-User': 'mallory', 'X-Remote-Group': 'system:authenticated' } })).status).toBe(200);
    // Answers are cached (10 s): the same request again asks the cluster nothing.
    const asked = reviews().length;
    expect(asked - before).toBe(3);
    await get(METRIC, { cert: proxy, headers: { 'X-Remote-User': 'mallory', 'X-Remote-Group': 'system:authenticated' } });
    expect(reviews().length).toBe(asked);
  });

  it('refuses a proxied request that names no user', async () => {
    const res = await get(METRIC, { cert: proxy });
    expect(res.status).toBe(401);
    expect(res.body.message).toBe('the front proxy named no user (X-Remote-User)');
  });
});
