/**
 * `shadowscale receiver` as a real process against the in-test Kubernetes API server, reading readiness
 * and the plan from a real Prometheus: 1,000 malformed payloads leave it alive and idle; a crash
 * (SIGKILL) between two API calls of a promotion, then a restart, ends in the same state as a
 * promotion that was never interrupted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

import { FakeKubeApi } from './harness/kube-api.ts';
import { freePort } from '../platform/runtime/ports.ts';
import { startProcess, waitForHttp, type ManagedProcess } from '../platform/runtime/process.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';

const ROOT = join(import.meta.dirname, '..');
const TOKEN = 'process-token-41c7';
const NS = 'shop';
const DEPLOY = `/apis/apps/v1/namespaces/${NS}/deployments`;
const HPA = `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/checkout`;
const ROUTE = `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/checkout`;

let dir: string;
let api: FakeKubeApi;
let exporter: http.Server;
let prometheus: PrometheusServer;
let configFile: string;
let port: number;

function seed(): void {
  api.deployment(NS, 'checkout', 6);
  api.deployment(NS, 'checkout-shadow', 1);
  api.hpa(NS, 'checkout', 'checkout', 2, 20);
  api.put(ROUTE, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'checkout', namespace: NS },
    spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'checkout', port: 80 }], filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'checkout-shadow', port: 80 }, percent: 10 } }] }] },
  });
}

async function startReceiverProcess(attempt: string): Promise<ManagedProcess> {
  const proc = startProcess(process.execPath, [join(ROOT, 'bin', 'shadowscale.mjs'), 'receiver', '--config', configFile], {
    cwd: dir,
    logFile: join(dir, `receiver-${attempt}.log`),
    env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig') },
  });
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, proc);
  return proc;
}

const post = (body: string | Buffer, token = TOKEN) =>
  fetch(`http://127.0.0.1:${port}/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: typeof body === 'string' ? body : new Uint8Array(body) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shadowscale-receiver-proc-'));
  api = new FakeKubeApi();
  await api.start();
  api.readyDelayMs = 200;
  exporter = http.createServer((_req, res) =>
    res.end(
      [
        'shadowscale:shadow_ready:bool{namespace="shop",workload="checkout"} 1',
        'shadowscale_forecast_desired_replicas{namespace="shop",workload="checkout"} 8',
        'shadowscale_shadow_pool_size{namespace="shop",workload="checkout"} 3',
        '',
      ].join('\n'),
    ),
  );
  await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
  prometheus = await startPrometheus({
    scrapeTargets: [{ job: 'adapter', target: `127.0.0.1:${(exporter.address() as AddressInfo).port}`, metricRelabelConfigs: [{ action: 'labeldrop', regex: 'instance|job' }] }],
  });
  writeFileSync(
    join(dir, 'kubeconfig'),
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'test', user: { token: 'kube-token' } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'test',
    }),
  );
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  port = await freePort();
  configFile = join(dir, 'shadowscale.yaml');
  writeFileSync(
    configFile,
    stringify({
      prometheus: { url: prometheus.url },
      receiver: { listen: `127.0.0.1:${port}`, tokenFile: join(dir, 'token'), resync: '1s', auditFile: join(dir, 'audit.jsonl'), kubernetes: { requestTimeout: '2s' } },
      workloads: [
        {
          name: 'checkout',
          namespace: NS,
          load: 'sum(rate(http_requests_total{workload="checkout"}[1m]))',
          capacityPerReplica: 50,
          primary: { name: 'checkout', minReplicas: 2, maxReplicas: 20 },
          shadow: { name: 'checkout-shadow', minReplicas: 1, maxReplicas: 5, mirrorPercent: 10 },
          router: { kind: 'HTTPRoute', name: 'checkout', port: 80 },
        },
      ],
    }),
  );
  // Wait for the exporter's series to be scraped.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await fetch(`${prometheus.url}/api/v1/query?query=shadowscale_shadow_pool_size`);
    if (((await r.json()) as any).data.result.length > 0) break;
    if (Date.now() > deadline) throw new Error('exporter not scraped');
    await new Promise((r) => setTimeout(r, 200));
  }
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await api?.stop();
  exporter?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A valid payload, to be broken. */
function validPayload(): any {
  return {
    version: '4',
    groupKey: '{}:{namespace="shop", workload="checkout"}',
    truncatedAlerts: 0,
    receiver: 'shadowscale',
    status: 'firing',
    groupLabels: { namespace: 'shop', workload: 'checkout' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://am',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'ShadowscaleLoadAnomaly', namespace: 'shop', workload: 'checkout', shadowscale_action: 'prescale' },
        annotations: {},
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        fingerprint: 'aaaabbbbccccdddd',
      },
    ],
  };
}

/** Seeded pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** 1,000 payloads that must each be refused: broken JSON, wrong shapes, and valid payloads with one required field broken. */
function malformed(count: number): Array<string | Buffer> {
  const random = rng(20261123);
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  const junk = [null, 42, -1.5, true, 'text', [], {}, [1, 2], { a: 1 }, '', '0001-99-99', 'x'.repeat(300)];
  const breakers: Array<(p: any) => void> = [
    (p) => (p.version = pick(['3', 4, '', null, '4.0'])),
    (p) => delete p.version,
    (p) => delete p.alerts,
    (p) => (p.alerts = pick([null, 'alerts', 7, { 0: {} }])),
    (p) => (p.status = pick(['firing!', 'ok', 1, null])),
    (p) => (p.alerts[0].status = pick(['burning', '', null, 0, 'FIRING'])),
    (p) => delete p.alerts[0].fingerprint,
    (p) => (p.alerts[0].fingerprint = pick(['', 12, null, 'f'.repeat(200)])),
    (p) => (p.alerts[0].startsAt = pick(['yesterday', '', 0, null, 'not-a-time'])),
    (p) => delete p.alerts[0].startsAt,
    (p) => (p.alerts[0].labels = pick([null, 'labels', [1], 5])),
    (p) => (p.alerts[0].labels.namespace = pick(junk.filter((j) => typeof j !== 'string'))),
    (p) => (p.alerts[0] = pick(junk)),
    (p) => (p.groupKey = pick([null, 1, {}, []])),
    (p) => (p.truncatedAlerts = pick([-1, 'many', 1.5])),
  ];
  const out: Array<string | Buffer> = [];
  for (let i = 0; i < count; i++) {
    const kind = random();
    if (kind < 0.15) {
      const text = JSON.stringify(validPayload());
      out.push(text.slice(0, Math.floor(random() * (text.length - 1)))); // truncated
    } else if (kind < 0.25) {
      out.push(Buffer.from(Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)))); // random bytes
    } else if (kind < 0.32) {
      out.push(JSON.stringify(pick(junk))); // JSON, but not an object
    } else {
      const p = validPayload();
      const n = 1 + Math.floor(random() * 3);
      for (let j = 0; j < n; j++) {
        try {
          pick(breakers)(p);
        } catch {
          // A break of a field an earlier break removed: the earlier one stands.
        }
      }
      // Make sure at least one break stuck (a delete on an already-replaced alert is a no-op).
      if (p.version === '4' && Array.isArray(p.alerts) && p.alerts[0]?.status === 'firing' && typeof p.alerts[0]?.fingerprint === 'string' && p.alerts[0].fingerprint.length > 0 && p.alerts[0].fingerprint.length <= 128 && typeof p.alerts[0]?.startsAt === 'string' && !Number.isNaN(Date.parse(p.alerts[0].startsAt)) && typeof p.groupKey === 'string' && p.status === 'firing' && typeof p.alerts[0].labels === 'object' && p.alerts[0].labels !== null && !Array.isArray(p.alerts[0].labels) && Object.values(p.alerts[0].labels).every((v) => typeof v === 'string') && Number.isInteger(p.truncatedAlerts) && p.truncatedAlerts >= 0) {
        p.alerts[0].status = 'half-firing';
      }
      out.push(JSON.stringify(p));
    }
  }
  return out;
}

describe('the receiver process', () => {
  it('refuses 1,000 malformed payloads with 4xx, acts on none, and stays up', async () => {
    api.requests.length = 0;
    seed();
    const proc = await startReceiverProcess('fuzz');
    try {
      const bodies = malformed(1000);
      const codes = new Map<number, number>();
      for (let i = 0; i < bodies.length; i += 25) {
        const answers = await Promise.all(bodies.slice(i, i + 25).map((b) => post(b).then(async (r) => (await r.text(), r.status))));
        for (const c of answers) codes.set(c, (codes.get(c) ?? 0) + 1);
      }
      expect([...codes.keys()].every((c) => c >= 400 && c < 500)).toBe(true);
      expect([...codes.values()].reduce((a, b) => a + b, 0)).toBe(1000);
      expect((await post(JSON.stringify(validPayload()), 'wrong-token')).status).toBe(401);
      expect(proc.exited()).toBe(false);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      // No action: nothing written to the cluster (reads by the resync are fine).
      expect(api.writes()).toEqual([]);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/shadowscale_receiver_webhooks_total\{outcome="invalid"\} 1000/);
    } finally {
      await proc.stop();
    }
  });

  it('a crash between two API calls of a promotion, then a restart, ends in the uninterrupted end state', async () => {
    api.objects.clear();
    api.requests.length = 0;
    seed();
    // The route patch never answers: the promotion has grown the shadow and is mid-way when it dies.
    api.inject((r) => r.method === 'PATCH' && r.path === ROUTE, { hang: true });
    const first = await startReceiverProcess('before-crash');
    const alert = { ...validPayload() };
    alert.alerts[0] = { ...alert.alerts[0], labels: { alertname: 'ShadowscalePrimaryDegraded', namespace: NS, workload: 'checkout', shadowscale_action: 'promote', reason: 'latency' }, fingerprint: 'promote0001' };
    expect((await post(JSON.stringify(alert))).status).toBe(200);
    const deadline = Date.now() + 20_000;
    while (!api.requests.some((r) => r.method === 'PATCH' && r.path === ROUTE)) {
      if (Date.now() > deadline) throw new Error('the promotion never reached the route');
      await new Promise((r) => setTimeout(r, 20));
    }
    first.child.kill('SIGKILL');
    await first.stop();
    // Twice the primary's 6 pods: shadow pods have half the resources (resourceFraction 0.5, the default).
    expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(12);
    expect(api.get(ROUTE).spec.rules[0].backendRefs[0].name).toBe('checkout'); // not switched yet

    const second = await startReceiverProcess('after-crash');
    try {
      const end = Date.now() + 20_000;
      while (api.get(`${DEPLOY}/checkout`).spec.replicas !== 1) {
        if (Date.now() > end) throw new Error(`not converged: ${JSON.stringify(api.writes().map((w) => `${w.method} ${w.path}`))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // The end state of an uninterrupted promotion (actuators/kubernetes/cluster.test.ts asserts the same sequence).
      expect(api.get(ROUTE).spec.rules[0].backendRefs).toEqual([{ name: 'checkout-shadow', port: 80, weight: 1 }]);
      expect(api.get(ROUTE).spec.rules[0].filters).toEqual([{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'checkout', port: 80 }, percent: 10 } }]);
      expect(api.get(HPA).spec).toMatchObject({ minReplicas: 4, scaleTargetRef: { name: 'checkout-shadow' } });
      expect(api.get(`${DEPLOY}/checkout-shadow`).spec.replicas).toBe(12);
      expect(api.get(`${DEPLOY}/checkout`).spec.replicas).toBe(1);
      // The memory survived in the ConfigMap: one role change, not two.
      const state = JSON.parse(api.get('/api/v1/namespaces/default/configmaps/shadowscale-receiver-state-shop-checkout').data['memory.json']);
      expect(state).toMatchObject({ swapped: true });
      expect(state.roleChanges).toHaveLength(1);
      // The shadow was grown once: the restarted receiver did not redo what was done.
      expect(api.writes().filter((w) => w.path.endsWith('checkout-shadow/scale'))).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });
});
