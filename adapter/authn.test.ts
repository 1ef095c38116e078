/**
 * The external metrics API behind front-proxy authentication, as the kube-apiserver calls an
 * aggregated API server: a client certificate signed by the requestheader CA with an allowed common
 * name gets through; no certificate, another CA, another name or plain HTTP do not; probes and
 * /metrics stay open. The CA and names come from a file or from kube-system/extension-apiserver-
 * authentication (the in-test API server answers with the real ConfigMap's shape).
 */
import https from 'node:https';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { kubeConfigFor } from '../platform/kubernetes.ts';
import { parseConfig, type Config } from '../core/config.ts';
import { ca, clientCert as client, servedCommonName, serverCert } from '../test/harness/certs.ts';
import { FakeKubeApi } from '../test/harness/kube-api.ts';
import { startAdapter, type RunningAdapter } from './server.ts';

const PATH = '/apis/external.metrics.k8s.io/v1beta1';

function config(authentication: Record<string, unknown>): Config {
  return parseConfig(`
prometheus: { url: http://127.0.0.1:9, timeout: 1s }
adapter:
  listen: { http: "127.0.0.1:0", https: "127.0.0.1:0" }
  authentication: ${JSON.stringify(authentication)}
workloads:
  - name: checkout
    namespace: shop
    load: sum(rate(http_requests_total[1m]))
    capacityPerReplica: 50
    primary: { name: checkout, maxReplicas: 10 }
`);
}

function get(url: string, cert?: { cert: string; key: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, headers: { 'X-Remote-User': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler' }, ...(cert ?? {}) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
  });
}

let frontProxyCa: Awaited<ReturnType<typeof ca>>;
let good: Awaited<ReturnType<typeof client>>;
let wrongName: Awaited<ReturnType<typeof client>>;
let wrongCa: Awaited<ReturnType<typeof client>>;
let caFile: string;

beforeAll(async () => {
  frontProxyCa = await ca('front-proxy-ca');
  good = await client('front-proxy-client', frontProxyCa);
  wrongName = await client('someone-else', frontProxyCa);
  wrongCa = await client('front-proxy-client', await ca('another-ca'));
  caFile = join(mkdtempSync(join(tmpdir(), 'shadowscale-authn-')), 'front-proxy-ca.crt');
  writeFileSync(caFile, frontProxyCa.cert);
}, 60_000);

describe('front-proxy authentication of the external metrics API', () => {
  let adapter: RunningAdapter;
  afterAll(async () => adapter?.stop());

  it('admits only the front proxy, on HTTPS, and leaves probes and /metrics open', async () => {
    adapter = await startAdapter(config({ requestHeader: 'file', clientCAFile: caFile, allowedNames: ['front-proxy-client'], authorization: 'none' }), { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true });
    const url = `${adapter.httpsUrl}${PATH}`;
    expect(await get(url, { cert: good.cert, key: good.private })).toBe(200);
    expect(await get(url)).toBe(401);
    expect(await get(url, { cert: wrongName.cert, key: wrongName.private })).toBe(401);
    expect(await get(url, { cert: wrongCa.cert, key: wrongCa.private })).toBe(401);
    expect((await fetch(`${adapter.httpUrl}${PATH}`)).status).toBe(403);
    expect(await get(`${adapter.httpsUrl}/healthz`)).toBe(200);
    expect((await fetch(`${adapter.httpUrl}/metrics`)).status).toBe(200);
  });
});

describe('a renewed serving certificate', () => {
  it('is served without a restart, and the front proxy is still admitted through it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shadowscale-authn-tls-'));
    const servingCa = await ca('serving-ca');
    const pair = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    const first = await serverCert('adapter-first', servingCa);
    writeFileSync(pair.certFile, first.cert);
    writeFileSync(pair.keyFile, first.private);
    const cfg = config({ requestHeader: 'file', clientCAFile: caFile, allowedNames: ['front-proxy-client'], authorization: 'none' });
    cfg.adapter.tls = pair;
    const adapter = await startAdapter(cfg, { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true, tlsReloadMs: 100 });
    try {
      const servedName = () => servedCommonName(`${adapter.httpsUrl}/healthz`);
      expect(await servedName()).toBe('adapter-first');
      const second = await serverCert('adapter-second', servingCa);
      writeFileSync(pair.certFile, second.cert);
      writeFileSync(pair.keyFile, second.private);
      const until = Date.now() + 5000;
      while ((await servedName()) !== 'adapter-second' && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(await servedName()).toBe('adapter-second');
      // The front-proxy CA survived the reload: its client certificate is still verified.
      const fresh = new https.Agent({ keepAlive: false });
      const status = await new Promise<number>((resolve, reject) => {
        const req = https.get(`${adapter.httpsUrl}${PATH}`, { rejectUnauthorized: false, agent: fresh, cert: good.cert, key: good.private, headers: { 'X-Remote-User': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
      });
      expect(status).toBe(200);
    } finally {
      await adapter.stop();
    }
  });
});

describe('the trust read from the cluster', () => {
  let api: FakeKubeApi;
  beforeAll(async () => {
    api = new FakeKubeApi();
    await api.start();
  });
  afterAll(async () => api?.stop());

  it('reads the CA and allowed names from kube-system/extension-apiserver-authentication', async () => {
    api.put('/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'extension-apiserver-authentication', namespace: 'kube-system' },
      data: { 'requestheader-client-ca-file': frontProxyCa.cert, 'requestheader-allowed-names': '["front-proxy-client"]', 'requestheader-username-headers': '["X-Remote-User"]' },
    });
    api.authorize = () => true;
    const adapter = await startAdapter(config({ requestHeader: 'cluster' }), { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true, kubeConfig: kubeConfigFor(api.url) });
    try {
      expect(await get(`${adapter.httpsUrl}${PATH}`, { cert: good.cert, key: good.private })).toBe(200);
      expect(await get(`${adapter.httpsUrl}${PATH}`, { cert: wrongName.cert, key: wrongName.private })).toBe(401);
    } finally {
      await adapter.stop();
    }
  });

  it('refuses to start, naming the ConfigMap, when the cluster does not publish the CA', async () => {
    api.put('/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'extension-apiserver-authentication', namespace: 'kube-system' },
      data: { 'client-ca-file': 'x' },
    });
    await expect(startAdapter(config({ requestHeader: 'cluster' }), { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true, kubeConfig: kubeConfigFor(api.url) })).rejects.toThrow(
      'ConfigMap kube-system/extension-apiserver-authentication has no requestheader-client-ca-file',
    );
    api.objects.clear();
    await expect(startAdapter(config({ requestHeader: 'cluster' }), { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true, kubeConfig: kubeConfigFor(api.url) })).rejects.toThrow(
      'ConfigMap kube-system/extension-apiserver-authentication not found',
    );
    expect(() => config({ requestHeader: 'file' })).toThrow(/requestHeader: file needs clientCAFile/);
  });
});
