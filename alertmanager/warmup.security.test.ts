/**
 * Security of the warm-up generator. The request mix comes from Prometheus labels, which any scraped
 * pod can set: a path must never take a request off the shadow's origin (`//host/x`, backslashes), a
 * redirect from the shadow is not followed, and methods that change state need an explicit opt-in.
 * The mix source is a stand-in for Prometheus here (what it returns is the attack); the shadow and the
 * "elsewhere" are real HTTP servers on loopback.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseConfig, type WorkloadConfig } from '../core/config.ts';
import { WarmupGenerator, warmupMetrics, warmupUrl } from './warmup.ts';

let shadow: http.Server;
let elsewhere: http.Server;
let shadowUrl = '';
let elsewhereHost = '';
const shadowHits: string[] = [];
const elsewhereHits: string[] = [];

async function serve(handler: http.RequestListener): Promise<[http.Server, string]> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return [server, `127.0.0.1:${(server.address() as AddressInfo).port}`];
}

function workload(warmup: Record<string, unknown>): WorkloadConfig {
  return parseConfig(
    JSON.stringify({
      prometheus: { url: 'http://127.0.0.1:9' },
      workloads: [
        {
          name: 'checkout',
          namespace: 'shop',
          load: 'up',
          capacityPerReplica: 10,
          primary: { name: 'checkout', maxReplicas: 10 },
          shadow: { name: 'checkout-shadow', maxReplicas: 3, warmup: { enabled: true, target: shadowUrl, paths: ['/.*'], maxRps: 40, share: 1, ...warmup } },
        },
      ],
    }),
  ).workloads[0];
}

beforeAll(async () => {
  let host: string;
  [elsewhere, elsewhereHost] = await serve((req, res) => {
    elsewhereHits.push(`${req.method} ${req.url}`);
    res.end('stolen');
  });
  [shadow, host] = await serve((req, res) => {
    shadowHits.push(`${req.method} ${req.url}`);
    if (req.url === '/r') res.writeHead(302, { location: `http://${elsewhereHost}/followed` }).end();
    else res.end('ok');
  });
  shadowUrl = `http://${host}`;
});
afterAll(async () => {
  await new Promise((r) => shadow.close(r));
  await new Promise((r) => elsewhere.close(r));
});

describe('warm-up requests stay on the shadow', () => {
  it('builds only origin-relative paths on the shadow', () => {
    expect(warmupUrl('http://checkout-shadow.shop.svc:8080', '/products?id=1')?.href).toBe('http://checkout-shadow.shop.svc:8080/products?id=1');
    for (const path of ['//evil.example/x', '/\\evil.example/x', 'http://evil.example/x', 'evil', '/a\r\nHost: evil', '']) {
      expect(warmupUrl('http://checkout-shadow.shop.svc:8080', path), path).toBeUndefined();
    }
  });

  it('sends nothing elsewhere for paths a scraped pod labelled, and follows no redirect', async () => {
    const w = workload({});
    const mix = [`//${elsewhereHost}/x`, `/\\${elsewhereHost}/y`, '/r', '/ok'].map((path) => ({ labels: { method: 'GET', path }, value: 10, timestamp: Date.now() / 1000 }));
    const g = new WarmupGenerator(w, w.shadow!.warmup!, { query: async () => mix }, warmupMetrics(new Registry()));
    await g.start();
    await new Promise((r) => setTimeout(r, 1500));
    g.stop();
    await new Promise((r) => setTimeout(r, 200));
    expect(elsewhereHits).toEqual([]);
    expect(shadowHits.length).toBeGreaterThan(10);
    expect(new Set(shadowHits)).toEqual(new Set(['GET /r', 'GET /ok']));
  });

  it('replays methods that change state only when the configuration opts in', () => {
    expect(() => workload({ methods: ['GET', 'POST'] })).toThrow(/warmup\.methods: methods that change state \(POST, PUT, PATCH, DELETE\) replay writes against the shadow; set unsafeMethods: true/);
    expect(workload({ methods: ['GET', 'POST'], unsafeMethods: true }).shadow!.warmup!.methods).toEqual(['GET', 'POST']);
  });
});
