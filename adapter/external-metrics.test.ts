/**
 * The external metrics' own request path (answered before Express): what it takes, what it leaves to
 * Express, and that a failing answer is a 500 Status rather than a dropped connection. The values
 * themselves, their selectors and their errors are checked end to end in test/adapter.e2e.test.ts.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { externalMetricValues, VALUES_ROUTE } from './external-metrics.ts';
import type { ForecastLoop } from './forecast-loop.ts';
import type { AdapterMetrics } from './metrics.ts';
import type { ServedView } from './serving.ts';

/** Two namespaces: `web` has `nasa` and `broken` (whose view throws), `api` has two healthy workloads. */
const NAMESPACES: Record<string, string[]> = { web: ['nasa', 'broken'], api: ['orders', 'search'] };
/** The few calls of the forecast loop the request path makes. */
const loop = {
  workload: (namespace: string, name: string) => (NAMESPACES[namespace]?.includes(name) ? { name, namespace } : undefined),
  workloadsIn: (namespace: string) => (NAMESPACES[namespace] ?? []).map((name) => ({ name, namespace })),
  computed: () => true,
  served: (_namespace: string, name: string) => {
    if (name === 'broken') throw new Error('view of web/broken failed');
    return { served: { predictedLoad: 12.5, desiredReplicas: 3, shadowPoolSize: 1 } } as ServedView;
  },
} as unknown as ForecastLoop;

describe('the external metrics values, answered before Express', () => {
  const observed: string[] = [];
  const errors: string[] = [];
  const metrics = { requestObserved: (api: string, metric: string, code: string) => observed.push(`${api} ${metric} ${code}`) } as unknown as AdapterMetrics;
  const values = externalMetricValues({ loop, metrics, stepSeconds: () => 60, now: () => Date.UTC(2026, 0, 1, 12), onError: (e) => errors.push(e.message) });
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (values(req, res)) return;
      res.writeHead(418, { 'content-type': 'text/plain' }).end('express');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server.close());

  const call = (method: string, path: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const PATH = VALUES_ROUTE.replace(':namespace', 'web').replace(':metric', 'shadowscale_predicted_load');
  it('serves the route the README documents', () => expect(PATH).toBe('/apis/external.metrics.k8s.io/v1beta1/namespaces/web/shadowscale_predicted_load'));

  it('answers a GET with the list, as JSON with its length, and observes it', async () => {
    const { status, headers, body } = await call('GET', `${PATH}?labelSelector=workload%3Dnasa`);
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(headers['content-length'])).toBe(Buffer.byteLength(body));
    expect(JSON.parse(body).items).toEqual([{ metricName: 'shadowscale_predicted_load', metricLabels: { workload: 'nasa', namespace: 'web' }, timestamp: '2026-01-01T12:00:00Z', window: 60, value: '12500m' }]);
    expect(observed.at(-1)).toBe('external_metrics shadowscale_predicted_load 200');
  });

  it('answers 404 for a metric named like an object property', async () => {
    for (const name of ['constructor', '__proto__', 'toString']) {
      const { status, body } = await call('GET', `${PATH.replace('shadowscale_predicted_load', name)}?labelSelector=workload%3Dnasa`);
      expect(status, name).toBe(404);
      expect(JSON.parse(body).message).toMatch(new RegExp(`external metric "${name}" is not served`));
      expect(observed.at(-1)).toBe('external_metrics unknown 404');
    }
  });

  it('answers a HEAD with the headers alone', async () => {
    const { status, headers, body } = await call('HEAD', `${PATH}?labelSelector=workload%3Dnasa`);
    expect(status).toBe(200);
    expect(Number(headers['content-length'])).toBeGreaterThan(0);
    expect(body).toBe('');
  });

  it('reads a repeated labelSelector as no selector, as Express did (every workload of the namespace)', async () => {
    const path = `${PATH.replace('/web/', '/api/').replace('shadowscale_predicted_load', 'shadowscale_desired_replicas')}?labelSelector=workload%3Dorders&labelSelector=workload%3Dother&x=1`;
    const { status, body } = await call('GET', path);
    expect(status).toBe(200);
    expect(JSON.parse(body).items.map((i: { metricLabels: object; value: string }) => [i.metricLabels, i.value])).toEqual([
      [{ workload: 'orders', namespace: 'api' }, '3'],
      [{ workload: 'search', namespace: 'api' }, '3'],
    ]);
  });

  it('answers a 500 Status, and logs it, when a workload\'s view fails', async () => {
    const { status, body } = await call('GET', `${PATH.replace('shadowscale_predicted_load', 'shadowscale_desired_replicas')}?labelSelector=workload%3Dbroken`);
    expect(status).toBe(500);
    expect(JSON.parse(body)).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'InternalError', code: 500, message: 'view of web/broken failed' });
    expect(errors).toEqual(['view of web/broken failed']);
    expect(observed.at(-1)).toBe('external_metrics shadowscale_desired_replicas 500');
  });

  it('leaves every other request to Express: other methods, other letter case, other paths, a bad encoding', async () => {
    for (const [method, path] of [
      ['POST', PATH],
      ['GET', PATH.replace('/apis/', '/APIS/')],
      ['GET', `${PATH}/extra`],
      ['GET', PATH.replace('external.metrics', 'externalXmetrics')],
      ['GET', '/apis/external.metrics.k8s.io/v1beta1'],
      ['GET', '/apis/external.metrics.k8s.io/v1beta1/namespaces/web%ZZ/shadowscale_predicted_load'],
    ]) {
      expect((await call(method, path)).status, `${method} ${path}`).toBe(418);
    }
  });
});
