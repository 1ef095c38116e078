/**
 * The sample service the local target runs as a pool of processes: answers HTTP requests after a
 * little work, is not ready until its start-up delay has passed (the provisioning lag), and exports
 * the metrics an instrumented app would (`http_requests_total{code}`, `http_request_duration_seconds`),
 * with no label of its own: which namespace and Deployment they come from is what the scrape adds
 * (the example PodMonitor's relabelling), as for any app in a cluster.
 *
 * Environment: PORT (0 = any), SET (the set it belongs to, for the x-served-by header),
 * STARTUP_MS, WORK_MS (mean service time), FAIL_RATIO (share of answers that are 500s),
 * CONCURRENCY (requests worked on at once; 0 = no limit) and QUEUE (requests waiting beyond those,
 * answered 503 past it): the capacity of one replica is CONCURRENCY ÷ WORK_MS, and overload shows
 * as queueing latency, then errors, like a real server's.
 * Prints `listening <port>` on its first line of output.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { Counter, Histogram, Registry } from 'prom-client';

const env = process.env;
const startupMs = Number(env.STARTUP_MS ?? 0);
let workMs = Number(env.WORK_MS ?? 2);
let failRatio = Number(env.FAIL_RATIO ?? 0);
let concurrency = Number(env.CONCURRENCY ?? 0);
const queueLimit = Number(env.QUEUE ?? 100);
const started = Date.now();
let busy = 0;
const waiting: Array<() => void> = [];
const normal = { workMs, failRatio };
let degradedUntil = 0;

const registry = new Registry();
const requests = new Counter({ name: 'http_requests_total', help: 'Requests answered.', labelNames: ['code'], registers: [registry] });
const duration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time to answer a request.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});
for (const code of ['200', '500', '503']) requests.inc({ code }, 0);

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/ready') {
    const ready = Date.now() - started >= startupMs;
    res.writeHead(ready ? 200 : 503).end(ready ? 'ready' : 'starting');
    return;
  }
  if (url === '/metrics') {
    void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
    return;
  }
  if (url.startsWith('/control')) {
    // Lets the demo and tests degrade a replica: /control?workMs=300&failRatio=0.2[&concurrency=50][&forMs=20000]
    // (a slow dependency makes requests wait without using the CPU: more of them at once, each slower).
    const q = new URL(url, 'http://x').searchParams;
    if (q.has('workMs')) workMs = Number(q.get('workMs'));
    if (q.has('concurrency')) concurrency = Number(q.get('concurrency'));
    if (q.has('failRatio')) failRatio = Number(q.get('failRatio'));
    if (q.has('forMs')) {
      // A passing trouble (a noisy neighbour, a GC storm): back to normal after forMs.
      degradedUntil = Date.now() + Number(q.get('forMs'));
      setTimeout(() => {
        if (Date.now() >= degradedUntil) ({ workMs, failRatio } = normal);
      }, Number(q.get('forMs'))).unref();
    }
    res.writeHead(200).end(JSON.stringify({ workMs, failRatio, concurrency }));
    return;
  }
  const begin = performance.now();
  req.resume();
  req.on('end', () => {
    const work = () => {
      busy++;
      setTimeout(() => {
        busy--;
        waiting.shift()?.();
        const code = Math.random() < failRatio ? 500 : 200;
        res.writeHead(code, { 'content-type': 'text/plain', 'x-served-by': `${env.SET ?? ''}/${process.pid}` }).end(code === 200 ? 'ok\n' : 'error\n');
        requests.inc({ code: String(code) });
        duration.observe((performance.now() - begin) / 1000);
      }, workMs * (0.5 + Math.random()));
    };
    if (concurrency <= 0 || busy < concurrency) work();
    else if (waiting.length < queueLimit) waiting.push(work);
    else {
      // Overloaded: refuse at once, as a server with a full accept queue would.
      res.writeHead(503, { 'content-type': 'text/plain', 'x-served-by': `${env.SET ?? ''}/${process.pid}` }).end('overloaded\n');
      requests.inc({ code: '503' });
      duration.observe((performance.now() - begin) / 1000);
    }
  });
});

server.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
const shutdown = () => server.close(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// The pool is the parent: if it goes, so do we.
process.on('disconnect', shutdown);
