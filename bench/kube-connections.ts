/**
 * `npm run bench:kube-connections`: the Kubernetes client's kept connections against an API server
 * that closes idle connections after --idle-ms (1000) without announcing it, as a load balancer in
 * front of the API server does. --lanes (100) callers each make calls --pause-ms (1000, ±5 %) apart, so
 * that many calls are written on a connection just as it closes; --calls (10000) in all. Reports the
 * calls that failed, those sent again after their connection died under them, the connections opened,
 * and the latency. A benchmark: it reports, it asserts nothing; bench/results/kube-connections.{json,txt}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { FakeKubeApi } from '../test/harness/kube-api.ts';
import { createKubeApis, kubeConfigFor } from '../platform/kubernetes.ts';
import { arg } from './args.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CALLS = Number(arg('--calls', '10000'));
const LANES = Number(arg('--lanes', '100'));
const IDLE_MS = Number(arg('--idle-ms', '1000'));
const PAUSE_MS = Number(arg('--pause-ms', '1000'));

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

async function main(): Promise<void> {
  const api = new FakeKubeApi();
  const url = await api.start();
  api.idleCloseMs = IDLE_MS;
  api.objects.set('/api/v1/namespaces/ns/configmaps/state', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'state', namespace: 'ns', resourceVersion: '1' }, data: {} });
  const apis = createKubeApis(kubeConfigFor(url), { timeoutMs: 5000, retries: 0 });
  const failures: string[] = [];
  const latencies: number[] = [];
  let made = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      while (made < CALLS) {
        made++;
        const t = performance.now();
        try {
          await apis.core.readNamespacedConfigMap({ name: 'state', namespace: 'ns' }, apis.options());
          latencies.push(performance.now() - t);
        } catch (error) {
          failures.push((error as Error).message);
        }
        await new Promise((r) => setTimeout(r, PAUSE_MS * (0.95 + Math.random() * 0.1)));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const result = {
    date: new Date().toISOString(),
    machine: `${process.platform} ${process.arch}, node ${process.version}`,
    calls: made,
    lanes: LANES,
    idleCloseMs: IDLE_MS,
    pauseMs: PAUSE_MS,
    seconds: Math.round(seconds),
    failed: failures.length,
    failures: [...new Set(failures)].slice(0, 5),
    resent: apis.http?.resent() ?? 0,
    connectionsOpened: api.connections,
    latencyMs: { p50: Math.round(quantile(latencies, 0.5) * 100) / 100, p99: Math.round(quantile(latencies, 0.99) * 100) / 100 },
  };
  await apis.http?.close();
  await api.stop();
  const text = [
    `Kubernetes client against an API server closing idle connections after ${IDLE_MS} ms unannounced, ${result.date}`,
    `${made} calls from ${LANES} callers every ${PAUSE_MS} ms ±5 % in ${result.seconds} s: ${result.failed} failed, ${result.resent} sent again after their connection closed under them, ${result.connectionsOpened} connections opened; latency p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`,
    ...result.failures.map((f) => `  failure: ${f}`),
  ].join('\n');
  console.log(text);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'kube-connections.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(ROOT, 'bench', 'results', 'kube-connections.txt'), `${text}\n`);
}

await main();
