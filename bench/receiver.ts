/**
 * `npm run bench:receiver`: how soon the receiver acts. `shadowscale receiver` runs as its own process
 * against the in-test Kubernetes API server (test/harness/kube-api.ts), reading the plan from a real
 * Prometheus. Each webhook is a prescale for a different workload, so each one leads to API calls.
 * Measured, per webhook, on one clock (this process sends the webhook and runs the API server):
 *   - sent → the first request of any kind at the API server (the state ConfigMap read),
 *   - sent → the first write to the workload (the HPA floor patch),
 *   - and the receiver's own histogram shadowscale_receiver_receipt_to_api_call_seconds.
 * Rounds of --webhooks each: sequential (one webhook at a time), then bursts of each --bursts size at once,
 * each with the API requests it led to per webhook. Measured once the receiver's informers have listed
 * and are watching, as on a receiver that has run for a while.
 * Then the floor of those figures on this machine: the same rounds against a bare server in its own
 * process that makes the same two calls in a row (create a ConfigMap, patch the HPA) on kept
 * connections and answers, with no decision, no client library and no log. What the floor already
 * takes is the machine's (processes sharing the cores, loopback writes), not the receiver's.
 * A benchmark: it prints what it measured and writes bench/results/receiver.{json,txt}; it asserts nothing.
 *
 * Options: --webhooks N (300), --bursts 20,100, --node PATH (the Node.js binary that runs the receiver
 * and the floor server: this bench's by default; the image runs Node 24).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

import { FakeKubeApi } from '../test/harness/kube-api.ts';
import { freePort } from '../platform/runtime/ports.ts';
import { startProcess, waitForHttp } from '../platform/runtime/process.ts';
import { startPrometheus } from '../platform/runtime/prometheus.ts';
import { arg } from './args.ts';
import { builtShadowscale, serviceNode } from './built.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WEBHOOKS = Number(arg('--webhooks', '300'));
const BURSTS = arg('--bursts', '20,100').split(',').map(Number);
/** The Node that runs the receiver and the floor server (the image's is 24; this one may be older). */
const NODE = serviceNode();
const NS = 'bench';
const TOKEN = 'bench-token';

/**
 * The floor server: a webhook in, a ConfigMap created and the HPA's floor patched in a row (Node's
 * fetch keeps the connections), then 200. What every receiver must do at least, and nothing more.
 */
const FLOOR_SERVER = `
import http from 'node:http';
const api = process.env.FLOOR_API;
const ns = process.env.FLOOR_NS;
const headers = { authorization: 'Bearer x' };
http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const alert = JSON.parse(Buffer.concat(chunks).toString()).alerts[0];
      const name = alert.labels.workload;
      const cm = await fetch(api + '/api/v1/namespaces/' + ns + '/configmaps', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'memory-' + name, namespace: ns }, data: { 'memory.json': JSON.stringify({ alerts: { [alert.fingerprint]: alert.status } }) } }) });
      await cm.arrayBuffer();
      const hpa = await fetch(api + '/apis/autoscaling/v2/namespaces/' + ns + '/horizontalpodautoscalers/' + name, { method: 'PATCH', headers: { ...headers, 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { minReplicas: 9 } }) });
      await hpa.arrayBuffer();
      if (cm.status >= 300 || hpa.status >= 300) res.statusCode = 500;
      res.end('ConfigMap ' + cm.status + ', HPA ' + hpa.status);
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  });
}).listen(Number(process.env.FLOOR_PORT), '127.0.0.1');
`;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const summary = (xs: number[]) => ({ n: xs.length, p50: round(quantile(xs, 0.5)), p90: round(quantile(xs, 0.9)), p99: round(quantile(xs, 0.99)), max: round(Math.max(...xs)) });
const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowscale-bench-receiver-'));
  const api = new FakeKubeApi();
  await api.start();
  const names = Array.from({ length: WEBHOOKS * (1 + BURSTS.length) }, (_, i) => `w${String(i).padStart(4, '0')}`);
  for (const name of names) {
    api.deployment(NS, name, 4);
    api.deployment(NS, `${name}-shadow`, 1);
    api.hpa(NS, name, name, 2, 40);
  }
  const exporter = http.createServer((_req, res) =>
    res.end(names.flatMap((n) => [`shadowscale_forecast_desired_replicas{namespace="${NS}",workload="${n}"} 9`, `shadowscale_shadow_pool_size{namespace="${NS}",workload="${n}"} 3`]).join('\n') + '\n'),
  );
  await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
  const prometheus = await startPrometheus({
    scrapeTargets: [{ job: 'adapter', target: `127.0.0.1:${(exporter.address() as AddressInfo).port}`, metricRelabelConfigs: [{ action: 'labeldrop', regex: 'instance|job' }] }],
  });
  for (let i = 0; ; i++) {
    const r = (await (await fetch(`${prometheus.url}/api/v1/query?query=count(shadowscale_shadow_pool_size)`)).json()) as any;
    if (Number(r.data.result[0]?.value[1] ?? 0) === names.length) break;
    if (i > 200) throw new Error('exporter not scraped');
    await new Promise((r) => setTimeout(r, 100));
  }

  writeFileSync(join(dir, 'kubeconfig'), stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'b', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }], users: [{ name: 'b', user: { token: 'x' } }], contexts: [{ name: 'b', context: { cluster: 'b', user: 'b' } }], 'current-context': 'b' }));
  writeFileSync(join(dir, 'token'), TOKEN);
  const port = await freePort();
  writeFileSync(
    join(dir, 'config.yaml'),
    stringify({
      prometheus: { url: prometheus.url },
      receiver: { listen: `127.0.0.1:${port}`, tokenFile: join(dir, 'token'), resync: '1h', auditFile: join(dir, 'audit.jsonl') },
      workloads: names.map((name) => ({ name, namespace: NS, load: 'up', capacityPerReplica: 10, primary: { name, minReplicas: 2, maxReplicas: 40 }, shadow: { name: `${name}-shadow`, minReplicas: 1, maxReplicas: 10 } })),
    }),
  );
  const proc = startProcess(NODE.path, builtShadowscale(['receiver', '--config', join(dir, 'config.yaml')]), {
    logFile: join(dir, 'receiver.log'),
    env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig') },
  });
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, proc);
  // Let the first resync (reads only) pass before measuring, and the informers list and watch (a
  // receiver that has run for a while observes from them).
  const started = Date.now();
  while (api.watching < 2 && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 100));
  const informersMs = Date.now() - started;
  await new Promise((r) => setTimeout(r, 3000));

  let target = port;
  const send = async (name: string) => {
    const body = JSON.stringify({
      version: '4',
      groupKey: `{}:{namespace="${NS}", workload="${name}"}`,
      status: 'firing',
      receiver: 'shadowscale',
      alerts: [{ status: 'firing', labels: { alertname: 'ShadowscaleLoadAnomaly', namespace: NS, workload: name, shadowscale_action: 'prescale' }, annotations: {}, startsAt: new Date().toISOString(), fingerprint: `fp-${name}` }],
    });
    const sent = Date.now();
    const res = await fetch(`http://127.0.0.1:${target}/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body });
    if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status} ${await res.text()}`);
    return { name, sent, answered: Date.now() };
  };
  // Index arrivals as they come: scanning the request log while the API server runs in this process
  // would delay its answers and be measured as the receiver's latency.
  const firstPatch = new Map<string, number>();
  const stateCalls: number[] = [];
  api.onRequest = (r) => {
    lastRequest = r.at;
    if (r.method === 'PATCH' && r.path.includes('/horizontalpodautoscalers/')) {
      const name = r.path.split('/').at(-1)!;
      if (!firstPatch.has(name)) firstPatch.set(name, r.at);
    }
    if (r.path.includes('/configmaps')) stateCalls.push(r.at);
  };

  let lastRequest = Date.now();
  const settled = async (names: string[]) => {
    const deadline = Date.now() + 60_000;
    while (!names.every((n) => firstPatch.has(n)) || Date.now() - lastRequest < 300) {
      if (Date.now() > deadline) throw new Error('not every webhook led to a patch within 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const measure = async (batch: string[], concurrency: number) => {
    const sends: Array<{ name: string; sent: number; answered: number }> = [];
    const from = api.requests.length;
    for (let i = 0; i < batch.length; i += concurrency) {
      const burst = batch.slice(i, i + concurrency);
      sends.push(...(await Promise.all(burst.map(send))));
      // A burst is measured on its own: the next one is sent once the receiver has finished with this
      // one (every floor patch made and no API request for 300 ms), as after an Alertmanager group flush.
      await settled(burst);
    }
    const toAnswer: number[] = [];
    const toFirstCall: number[] = [];
    const toFirstWrite: number[] = [];
    for (const s of sends) {
      toAnswer.push(s.answered - s.sent);
      toFirstCall.push(stateCalls.find((t) => t >= s.sent)! - s.sent);
      toFirstWrite.push(firstPatch.get(s.name)! - s.sent);
    }
    // The API requests of the round, per webhook, by verb and resource (read once the round is over).
    const perWebhook: Record<string, number> = {};
    for (const r of api.requests.slice(from)) {
      const resource = r.path.replace(/^\/apis?\/(?:[^/]+\/)?v\w+\/namespaces\/[^/]+\//, '').split('/').filter((_, i) => i !== 1).join('/');
      const k = `${r.watch ? 'WATCH' : r.method} ${resource}`;
      perWebhook[k] = (perWebhook[k] ?? 0) + 1 / batch.length;
    }
    for (const k of Object.keys(perWebhook)) perWebhook[k] = round(perWebhook[k]);
    return { webhooks: batch.length, concurrency, answeredMs: summary(toAnswer), firstApiCallMs: summary(toFirstCall), firstWriteMs: summary(toFirstWrite), apiRequestsPerWebhook: perWebhook };
  };

  const sequential = await measure(names.slice(0, WEBHOOKS), 1);
  const bursts = [];
  for (const [i, size] of BURSTS.entries()) bursts.push(await measure(names.slice(WEBHOOKS * (i + 1), WEBHOOKS * (i + 2)), size));
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const histogram = metrics.split('\n').filter((l) => l.startsWith('shadowscale_receiver_receipt_to_api_call_seconds'));
  await proc.stop();

  // The floor: the same rounds against a bare server making the same two calls in a row.
  const floorNames = names.map((n) => `floor-${n}`);
  for (const name of floorNames) api.hpa(NS, name, name, 2, 40);
  const floorPort = await freePort();
  const floorProc = startProcess(NODE.path, ['--input-type=module', '-e', FLOOR_SERVER], {
    logFile: join(dir, 'floor.log'),
    env: { ...process.env, FLOOR_PORT: String(floorPort), FLOOR_API: api.url, FLOOR_NS: NS },
  });
  await waitForHttp(`http://127.0.0.1:${floorPort}/healthz`, floorProc);
  target = floorPort;
  const floorSequential = await measure(floorNames.slice(0, WEBHOOKS), 1);
  const floorBursts = [];
  for (const [i, size] of BURSTS.entries()) floorBursts.push(await measure(floorNames.slice(WEBHOOKS * (i + 1), WEBHOOKS * (i + 2)), size));
  await floorProc.stop();

  await prometheus.stop();
  await api.stop();
  exporter.close();
  rmSync(dir, { recursive: true, force: true });

  const result = { date: new Date().toISOString(), machine: `${process.platform} ${process.arch}, node ${process.version}`, serviceNode: NODE.version, sequential, bursts, floor: { sequential: floorSequential, bursts: floorBursts }, apiConnections: api.connections, informersMs, receiverHistogram: histogram };
  const lines = [
    `receiver: webhook → Kubernetes API (in-test API server, plan from a real Prometheus), ${new Date().toISOString()}`,
    `the receiver and the floor server run on ${NODE.described}; this bench (webhooks, API server) on Node ${process.version}`,
    `${'round'.padEnd(22)} ${'n'.padStart(4)}  ${'answered p50/p99 ms'.padStart(20)}  ${'1st API call p50/p99'.padStart(21)}  ${'1st write p50/p99 ms'.padStart(21)}`,
    ...[
      ['sequential', sequential] as const,
      ...bursts.map((b) => [`bursts of ${b.concurrency}`, b] as const),
      ['floor: sequential', floorSequential] as const,
      ...floorBursts.map((b) => [`floor: bursts of ${b.concurrency}`, b] as const),
    ].map(([label, r]: any) => `${String(label).padEnd(22)} ${String(r.webhooks).padStart(4)}  ${`${r.answeredMs.p50} / ${r.answeredMs.p99}`.padStart(20)}  ${`${r.firstApiCallMs.p50} / ${r.firstApiCallMs.p99}`.padStart(21)}  ${`${r.firstWriteMs.p50} / ${r.firstWriteMs.p99}`.padStart(21)}`),
    ...[['sequential', sequential] as const, ...bursts.map((b) => [`bursts of ${b.concurrency}`, b] as const)].map(
      ([label, r]) => `API requests per webhook, ${label}: ${Object.entries(r.apiRequestsPerWebhook).sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    ),
    `connections the receiver and the floor server opened to the API server: ${api.connections}`,
    `informers listed and watching ${informersMs} ms after /healthz answered (${names.length * 2} Deployments, ${names.length} HPAs in one namespace)`,
    '',
    'receiver histogram (receipt → first write, seconds):',
    ...histogram.filter((l) => /_(sum|count)|le="(0.005|0.01|0.025|0.05|0.1)"/.test(l)),
  ];
  const text = lines.join('\n');
  console.log(text);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'receiver.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(ROOT, 'bench', 'results', 'receiver.txt'), `${text}\n`);
}

await main();
