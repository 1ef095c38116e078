/**
 * The benches' fixed-rate generator against a local server whose slowness is known: it must send at
 * its rate whatever the answers do, and count a request's wait behind a slow one from the time the
 * request was due (a closed-loop generator would send less and report a fast server).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import { openLoop } from './open-loop.ts';

let server: Server | undefined;

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  if (!server) return;
  const closing = server;
  server = undefined;
  closing.closeAllConnections();
  await new Promise((resolve) => closing.close(resolve));
});

describe('openLoop', () => {
  it('sends at the fixed rate and puts the slow answers in the tail', async () => {
    const arrivals: number[] = [];
    const origin = await serve((req, res) => {
      arrivals.push(performance.now());
      // One request in 25 takes 60 ms: 4 %, so the p99 is one of them and the median is not.
      setTimeout(() => res.end('ok'), req.url === '/slow' ? 60 : 0);
    });
    const figures = await openLoop({ origin, path: (i) => (i % 25 === 0 ? '/slow' : '/fast'), rate: 200, durationSeconds: 2 });
    expect(figures.requests).toBe(400);
    expect(arrivals).toHaveLength(400);
    expect(figures.errors).toBe(0);
    expect(figures.non2xx).toBe(0);
    // 400 requests spread over about two seconds, not sent at once: the last arrives ~2 s after the first.
    expect(arrivals[399] - arrivals[0]).toBeGreaterThan(1800);
    expect(figures.throughputPerSecond).toBeGreaterThan(150);
    expect(figures.throughputPerSecond).toBeLessThanOrEqual(205);
    expect(figures.latencyMs.p99).toBeGreaterThanOrEqual(60);
    expect(figures.latencyMs.p50).toBeLessThan(30);
    expect(figures.latencyMs.max).toBeGreaterThanOrEqual(figures.latencyMs.p999);
  });

  it('counts the wait of requests queued behind a stalled answer from their due time', async () => {
    const origin = await serve((req, res) => {
      setTimeout(() => res.end('ok'), req.url === '/stall' ? 300 : 0);
    });
    // One connection: while request 100 stalls for 300 ms, the ~60 requests due meanwhile wait for it.
    // Measured from when each was sent over a free connection, they would look instant.
    const figures = await openLoop({ origin, path: (i) => (i === 100 ? '/stall' : '/'), rate: 200, durationSeconds: 2, connections: 1 });
    expect(figures.requests).toBe(400);
    expect(figures.latencyMs.max).toBeGreaterThanOrEqual(300);
    // About 60 of 400 (15 %) waited, from 300 ms down to nothing: the p90 is among them.
    expect(figures.latencyMs.p90).toBeGreaterThan(50);
    expect(figures.latencyMs.p50).toBeLessThan(30);
    // The slowest 1 % is one burst, from the stalled request on (due 500 ms after the start); the
    // generator was not late, so the latency from the send is as long.
    expect(figures.tailBursts).toHaveLength(1);
    expect(figures.tailBursts[0].fromMs).toBe(500);
    expect(figures.tailBursts[0].requests).toBeGreaterThanOrEqual(4);
    expect(figures.tailBursts[0].maxLatencyMs).toBe(figures.latencyMs.max);
    expect(figures.sinceSendMs.p99).toBeGreaterThan(figures.latencyMs.p99 - 5);
  });

  it('opens its connections before the clock starts, when asked', async () => {
    const events: string[] = [];
    const origin = await serve((req, res) => {
      events.push('request');
      res.end('ok');
    });
    server!.on('connection', () => events.push('connection'));
    const figures = await openLoop({ origin, path: () => '/', rate: 200, durationSeconds: 0.5, connections: 4, openFirst: true });
    expect(figures.requests).toBe(100);
    // Four untimed requests, one on each of four connections, then the 100 timed ones and no new connection.
    expect(events.filter((e) => e === 'request')).toHaveLength(104);
    expect(events.filter((e) => e === 'connection')).toHaveLength(4);
    expect(events.lastIndexOf('connection')).toBeLessThan(events.indexOf('request') + 4);
  });

  it('counts answers that are not 2xx and requests that fail', async () => {
    const origin = await serve((req, res) => {
      if (req.url === '/reset') {
        req.socket.destroy();
        return;
      }
      res.statusCode = req.url === '/error' ? 500 : 200;
      res.end();
    });
    const figures = await openLoop({ origin, path: (i) => (i % 10 === 0 ? '/error' : i % 10 === 5 ? '/reset' : '/'), rate: 100, durationSeconds: 1 });
    expect(figures.requests).toBe(100);
    expect(figures.non2xx).toBe(10);
    expect(figures.errors).toBe(10);
  });

  it('sends with less than half the lag of sleeping on timers when it polls near each due time', async () => {
    const origin = await serve((req, res) => res.end('ok'));
    // 4,000 req/s: a request due every 0.25 ms. On timers the generator wakes about once a millisecond
    // and sends what is due by then, so half its requests go out a quarter of a millisecond late or more.
    const timers = await openLoop({ origin, path: () => '/', rate: 4000, durationSeconds: 0.5 });
    const polling = await openLoop({ origin, path: () => '/', rate: 4000, durationSeconds: 0.5, spinMs: 2 });
    expect(polling.requests).toBe(2000);
    expect(polling.errors).toBe(0);
    expect(timers.sendLagMs.p50).toBeGreaterThanOrEqual(0.25);
    expect(polling.sendLagMs.p50).toBeLessThan(timers.sendLagMs.p50 / 2);
  });

  it('reports its own pauses: a turn of its event loop held 20 ms while it polls, and its collections', async () => {
    const origin = await serve((req, res) => res.end('ok'));
    // Something else on the generator's thread (a collection would do the same) holds it 20 ms, and
    // allocates enough short-lived garbage (some 100 MB) for the young generation to be collected.
    let kept = 0;
    setTimeout(() => {
      const until = performance.now() + 20;
      while (performance.now() < until);
      // Kept a thousand arrays at a time, so that no optimisation can leave them unallocated.
      let sink: number[][] = [];
      for (let i = 0; i < 1_000_000; i++) {
        sink.push([i, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6, i + 7, i + 8, i + 9]);
        if (sink.length === 1000) {
          kept += sink.length;
          sink = [];
        }
      }
    }, 200);
    const figures = await openLoop({ origin, path: () => '/', rate: 1000, durationSeconds: 0.5, spinMs: 2 });
    expect(figures.pauses.longestGapsMs[0]).toBeGreaterThanOrEqual(20);
    // The requests due meanwhile went out late, and that lateness counts in their latency.
    expect(figures.sendLagMs.max).toBeGreaterThanOrEqual(15);
    expect(figures.latencyMs.max).toBeGreaterThanOrEqual(figures.sendLagMs.max);
    expect(kept).toBe(1_000_000);
    // Those collections, as perf_hooks told them.
    expect(figures.pauses.gcCount).toBeGreaterThan(0);
    expect(figures.pauses.gcTotalMs).toBeGreaterThan(0);
    expect(figures.pauses.gcLongestMs).toBeLessThanOrEqual(figures.pauses.gcTotalMs);
  });

  it('refuses a negative spinMs', async () => {
    await expect(openLoop({ origin: 'http://127.0.0.1:1', path: () => '/', rate: 10, durationSeconds: 1, spinMs: -1 })).rejects.toThrow(/spinMs \(-1\) must be 0 or more/);
  });

  it('refuses a rate or a duration that is not positive', async () => {
    await expect(openLoop({ origin: 'http://127.0.0.1:1', path: () => '/', rate: 0, durationSeconds: 1 })).rejects.toThrow(/rate \(0\) and durationSeconds \(1\) must be positive/);
    await expect(openLoop({ origin: 'http://127.0.0.1:1', path: () => '/', rate: 10, durationSeconds: -1 })).rejects.toThrow(/must be positive/);
  });
});
