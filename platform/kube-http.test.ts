/**
 * The Kubernetes client's kept connections, against the in-test API server: calls share connections;
 * a request whose connection dies under it is sent again only when repeating it is harmless; and a
 * server that closes idle connections without saying so (a load balancer's idle timeout) fails none
 * of many calls made around that timeout.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FakeKubeApi } from '../test/harness/kube-api.ts';
import { createKubeApis, kubeConfigFor, type KubeApis } from './kubernetes.ts';
import { safeToRepeat } from './kube-http.ts';

let api: FakeKubeApi;
let apis: KubeApis;

beforeEach(async () => {
  api = new FakeKubeApi();
  const url = await api.start();
  apis = createKubeApis(kubeConfigFor(url), { timeoutMs: 5000, retries: 0 });
  api.objects.set('/api/v1/namespaces/ns/configmaps/state', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'state', namespace: 'ns', resourceVersion: '1' }, data: {} });
});

afterEach(async () => {
  await apis.http?.close();
  await api.stop();
});

const read = () => apis.core.readNamespacedConfigMap({ name: 'state', namespace: 'ns' }, apis.options());

describe('kept connections to the API server', () => {
  it('sends sequential calls, and bursts of 20, over kept connections instead of one each', async () => {
    for (let i = 0; i < 50; i++) await read();
    // undici's pool opens a second connection while the first is still finishing its first answer.
    expect(api.connections).toBeLessThanOrEqual(2);
    // Ten bursts, 200 calls: the pool's connections (at most 32) are opened once and reused.
    for (let burst = 0; burst < 10; burst++) await Promise.all(Array.from({ length: 20 }, read));
    expect(api.connections).toBeLessThanOrEqual(32);
  });

  it('sends a read, a PUT and a merge patch that names its resourceVersion again when the connection dies under it', async () => {
    await read();
    api.inject((r) => r.method === 'GET', { reset: true });
    expect((await read()).metadata?.name).toBe('state');
    api.inject((r) => r.method === 'PATCH', { reset: true });
    const patched = await apis.core.patchNamespacedConfigMap({ name: 'state', namespace: 'ns', body: { metadata: { resourceVersion: '1' }, data: { a: '1' } } }, apis.options(true));
    expect(patched.data).toEqual({ a: '1' });
    expect(apis.http!.resent()).toBe(2);
  });

  it('sends the read again on a connection of its own, not on another kept one that may be as close to its end', async () => {
    // Kept connections, idle.
    await Promise.all([read(), read()]);
    // Two reads on two of them: the first answered (500) after 50 ms, which leaves its connection
    // kept and free; the second's connection dies after 100 ms. Sent again on the pool, it would take
    // the first's.
    api.inject((r) => r.method === 'GET', { status: 500, delayMs: 50 });
    api.inject((r) => r.method === 'GET', { reset: true, delayMs: 100 });
    const from = api.requests.length;
    const reads = Promise.allSettled([read(), read()]);
    while (api.requests.length < from + 2) await new Promise((r) => setTimeout(r, 5));
    const opened = api.connections;
    const [first, second] = await reads;
    expect(first.status).toBe('rejected');
    expect(second.status === 'fulfilled' && second.value.metadata?.name).toBe('state');
    expect(apis.http!.resent()).toBe(1);
    expect(api.connections).toBe(opened + 1);
  });

  it('does not repeat a create, or a patch without a resourceVersion: the error reaches the caller', async () => {
    api.inject((r) => r.method === 'POST', { reset: true });
    await expect(apis.core.createNamespacedConfigMap({ namespace: 'ns', body: { metadata: { name: 'other' } } }, apis.options())).rejects.toThrow();
    api.inject((r) => r.method === 'PATCH', { reset: true });
    await expect(apis.core.patchNamespacedConfigMap({ name: 'state', namespace: 'ns', body: { data: { b: '2' } } }, apis.options(true))).rejects.toThrow();
    expect(apis.http!.resent()).toBe(0);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('fails no call of 600 made around a 300 ms idle timeout the server does not announce', async () => {
    api.idleCloseMs = 300;
    const failures: string[] = [];
    // 30 lanes, each calling every 295-305 ms: many calls land on a connection as it closes.
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        for (let i = 0; i < 20; i++) {
          await read().catch((error) => failures.push((error as Error).message));
          await new Promise((r) => setTimeout(r, 295 + Math.random() * 10));
        }
      }),
    );
    expect(failures).toEqual([]);
    // The server did close idle connections under the callers: they had to open new ones, many times.
    expect(api.connections).toBeGreaterThan(60);
  }, 30_000);
});

describe('safeToRepeat', () => {
  it('repeats reads, PUT, DELETE and merge patches with a resourceVersion; not creates or other patches', () => {
    for (const m of ['GET', 'PUT', 'DELETE']) expect(safeToRepeat(m, undefined)).toBe(true);
    expect(safeToRepeat('POST', '{}')).toBe(false);
    expect(safeToRepeat('PATCH', JSON.stringify({ metadata: { resourceVersion: '7' }, spec: { replicas: 3 } }))).toBe(true);
    expect(safeToRepeat('PATCH', JSON.stringify({ spec: { replicas: 3 } }))).toBe(false);
    expect(safeToRepeat('PATCH', '[{"op":"replace","path":"/spec/replicas","value":3}]')).toBe(false);
  });
});
