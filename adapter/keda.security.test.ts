/**
 * Security of KEDA's external-scaler gRPC service: a ScaledObject reads only workloads of its own
 * namespace (never the one its trigger metadata names), and with `adapter.grpcTls` the service speaks
 * TLS and, with a client CA, answers only clients holding a certificate it signed (KEDA's `caCert`,
 * `tlsClientCert`, `tlsClientKey`). Real gRPC clients against the adapter on loopback.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseConfig } from '../core/config.ts';
import { ca, clientCert, serverCert, type Pems } from '../test/harness/certs.ts';
import { loadExternalScalerProto } from './keda.ts';
import { startAdapter, type RunningAdapter } from './server.ts';

let adapter: RunningAdapter;
let authority: Pems;
let client: Pems;
let stranger: Pems;

function scaler(credentials: grpc.ChannelCredentials): any {
  const proto = loadExternalScalerProto() as any;
  return new proto.externalscaler.ExternalScaler(adapter.grpcAddress!, credentials, { 'grpc.ssl_target_name_override': 'localhost' });
}
function call(c: any, method: string, request: unknown): Promise<any> {
  return new Promise((resolve, reject) => c[method](request, { deadline: Date.now() + 3000 }, (error: unknown, answer: unknown) => (error ? reject(error) : resolve(answer))));
}

beforeAll(async () => {
  authority = await ca('shadowscale-ca');
  const server = await serverCert('shadowscale-adapter', authority);
  client = await clientCert('keda-operator', authority);
  stranger = await clientCert('keda-operator', await ca('another-ca'));
  const dir = mkdtempSync(join(tmpdir(), 'shadowscale-grpc-'));
  for (const [name, text] of Object.entries({ 'tls.crt': server.cert, 'tls.key': server.private, 'ca.crt': authority.cert })) writeFileSync(join(dir, name), text);
  const config = parseConfig(`
prometheus: { url: http://127.0.0.1:9, timeout: 1s }
adapter:
  listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0" }
  grpcTls: { certFile: ${JSON.stringify(join(dir, 'tls.crt'))}, keyFile: ${JSON.stringify(join(dir, 'tls.key'))}, clientCAFile: ${JSON.stringify(join(dir, 'ca.crt'))} }
workloads:
  - { name: checkout, namespace: shop, load: up, capacityPerReplica: 50, primary: { name: checkout, maxReplicas: 10 } }
  - { name: payroll, namespace: finance, load: up, capacityPerReplica: 50, primary: { name: payroll, maxReplicas: 10 } }
`);
  adapter = await startAdapter(config, { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true });
}, 60_000);
afterAll(async () => adapter?.stop());

describe("KEDA's gRPC service", () => {
  it('answers over TLS a client whose certificate the configured CA signed', async () => {
    const keda = scaler(grpc.credentials.createSsl(Buffer.from(authority.cert), Buffer.from(client.private), Buffer.from(client.cert)));
    const spec = await call(keda, 'GetMetricSpec', { name: 'checkout-so', namespace: 'shop', scalerMetadata: { workload: 'checkout', metric: 'shadowscale_desired_replicas' } });
    expect(spec.metricSpecs[0]).toMatchObject({ metricName: 'shadowscale_desired_replicas', targetSize: 1 });
    keda.close();
  });

  it('refuses plaintext, a client without a certificate, and one from another CA', async () => {
    const ref = { name: 'checkout-so', namespace: 'shop', scalerMetadata: { workload: 'checkout' } };
    for (const credentials of [
      grpc.credentials.createInsecure(),
      grpc.credentials.createSsl(Buffer.from(authority.cert)),
      grpc.credentials.createSsl(Buffer.from(authority.cert), Buffer.from(stranger.private), Buffer.from(stranger.cert)),
    ]) {
      const c = scaler(credentials);
      const error: any = await call(c, 'GetMetricSpec', ref).catch((e) => e);
      expect(error.code).toBe(grpc.status.UNAVAILABLE);
      c.close();
    }
  });

  it("reads only the ScaledObject's own namespace, whatever its trigger metadata says", async () => {
    const keda = scaler(grpc.credentials.createSsl(Buffer.from(authority.cert), Buffer.from(client.private), Buffer.from(client.cert)));
    const error: any = await call(keda, 'GetMetricSpec', { name: 'spy', namespace: 'shop', scalerMetadata: { workload: 'payroll', namespace: 'finance' } }).catch((e) => e);
    expect(error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(error.details).toBe('trigger metadata "namespace": "finance" is not the ScaledObject\'s namespace "shop"; a ScaledObject reads only workloads of its own namespace');
    const missing: any = await call(keda, 'GetMetricSpec', { name: 'spy', namespace: 'shop', scalerMetadata: { workload: 'payroll' } }).catch((e) => e);
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
    keda.close();
  });
});

describe("the REST endpoints and KEDA's metrics-api", () => {
  it('require the bearer token when one is configured; probes and /metrics stay open', async () => {
    const config = parseConfig(`
prometheus: { url: http://127.0.0.1:9, timeout: 1s }
adapter:
  listen: { http: "127.0.0.1:0" }
  authentication: { tokenEnv: ADAPTER_TOKEN }
workloads:
  - { name: checkout, namespace: shop, load: up, capacityPerReplica: 50, primary: { name: checkout, maxReplicas: 10 } }
`);
    const rest = await startAdapter(config, { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true, env: { ADAPTER_TOKEN: 'rest-token-for-keda' } });
    try {
      for (const path of ['/keda/metrics?workload=checkout&namespace=shop', '/shadow/config', '/predict/capacity?workload=checkout&namespace=shop', '/KEDA/metrics?workload=checkout&namespace=shop']) {
        expect((await fetch(`${rest.httpUrl}${path}`)).status, path).toBe(401);
        expect((await fetch(`${rest.httpUrl}${path}`, { headers: { authorization: 'Bearer wrong' } })).status, path).toBe(401);
      }
      const ok = await fetch(`${rest.httpUrl}/keda/metrics?workload=checkout&namespace=shop`, { headers: { authorization: 'Bearer rest-token-for-keda' } });
      expect([200, 503]).toContain(ok.status);
      expect((await fetch(`${rest.httpUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${rest.httpUrl}/metrics`)).status).toBe(200);
    } finally {
      await rest.stop();
    }
    await expect(startAdapter(config, { logger: pino({ level: 'silent' }), waitForWarmup: false, noWarmup: true, env: {} })).rejects.toThrow('adapter.authentication token: environment variable ADAPTER_TOKEN is not set');
  });
});
