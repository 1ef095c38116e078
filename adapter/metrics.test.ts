/**
 * /metrics of many workloads is rendered in slices, with the event loop free between them for the
 * HPA's and KEDA's requests: the per-workload gauges written as text from the workloads' views (checked
 * by promtool), prom-client's own families formatted exactly as prom-client formats them.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

import { parseConfig } from '../core/config.ts';
import type { ForecastLoop } from './forecast-loop.ts';
import { createAdapterMetrics, formatSliced, writeChunks } from './metrics.ts';
import { view, type WorkloadSnapshot } from './serving.ts';

const NOW_MS = 1_700_000_000_000;

function fleet(n: number) {
  const config = parseConfig(
    `prometheus: { url: "http://127.0.0.1:9" }\nworkloads:\n${Array.from({ length: n }, (_, i) => `  - { name: w-${i}, namespace: bench, load: up, capacityPerReplica: 5, primary: { name: w-${i}, maxReplicas: 20 }, shadow: { name: w-${i}-shadow, maxReplicas: 4 } }`).join('\n')}\n`,
  );
  const states: (WorkloadSnapshot & { chosenModel?: string })[] = config.workloads.map((w, i) => ({ config: w, lagSeconds: 120, pastForecasts: [], trusted: false, observed: { value: i / 10, at: NOW_MS / 1000 - 5 }, riseHeadroom: 1 + i / 100 }));
  let iterations = 0;
  const loop = {
    *all() {
      iterations++;
      for (const s of states) yield { state: s, view: view(s, NOW_MS, 600) };
    },
    nowSeconds: () => NOW_MS / 1000,
    scoreSpec: () => 'spec',
  } as unknown as ForecastLoop;
  return { loop, states, iterations: () => iterations };
}

/** A rendering's chunks as one text. */
const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');

/** The per-workload series only (the process's own metrics change from one rendering to the next). */
const workloadLines = (text: string) => text.split('\n').filter((l) => l.includes('workload="'));

describe('the adapter /metrics', () => {
  it('writes every per-workload gauge from the views, the workloads read once per scrape, concurrent scrapes sharing one rendering', async () => {
    const { loop, iterations, states } = fleet(250);
    states[7].score = { relMae: 0.8, mae: 1.5, coverage80: 0.75, coverage95: 0.9, folds: 12, at: NOW_MS - 60_000 } as WorkloadSnapshot['score'];
    states[7].chosenModel = 'mstl';
    states[7].latencySloBucket = '0.5';
    const metrics = createAdapterMetrics(loop, 600);
    const [chunks, again] = await Promise.all([metrics.render(), metrics.render()]);
    expect(chunks).toBe(again);
    expect(iterations()).toBe(1);
    const a = text(chunks);
    expect(a.endsWith('\n')).toBe(true);
    const lines = workloadLines(a);
    expect(lines.filter((l) => l.startsWith('shadowscale_observed_load{'))).toHaveLength(250);
    // One workload's series, as its snapshot and view say.
    const w7 = lines.filter((l) => l.includes('workload="w-7",'));
    const v7 = view(states[7], NOW_MS, 600);
    expect(w7).toEqual(
      expect.arrayContaining([
        'shadowscale_observed_load{workload="w-7",namespace="bench"} 0.7',
        'shadowscale_load_headroom{workload="w-7",namespace="bench"} 1.07',
        'shadowscale_capacity_per_replica{workload="w-7",namespace="bench"} 5',
        `shadowscale_desired_replicas{workload="w-7",namespace="bench"} ${v7.served.desiredReplicas}`,
        `shadowscale_serving_rung{workload="w-7",namespace="bench",rung="${v7.rung}"} 1`,
        'shadowscale_workload_bound{workload="w-7",namespace="bench",bound="forecast_ttl_seconds"} 600',
        'shadowscale_workload_deployment_info{workload="w-7",namespace="bench",deployment="w-7-shadow",configured_role="shadow"} 1',
        `shadowscale_workload_latency_slo_bucket{workload="w-7",namespace="bench",le="0.5"} ${states[7].config.slo.latencyP99}`,
        'shadowscale_backtest_error{workload="w-7",namespace="bench",metric="coverage95"} 0.9',
        `shadowscale_backtest_timestamp_seconds{workload="w-7",namespace="bench",model="mstl",folds="12",spec="spec"} ${(NOW_MS - 60_000) / 1000}`,
      ]),
    );
    // Unknown is absent, not NaN (no forecast, no volatility, no counterfactual here).
    expect(lines.filter((l) => / NaN$/.test(l))).toEqual([]);
    expect(w7.filter((l) => l.startsWith('shadowscale_forecast_load') || l.startsWith('shadowscale_load_lag_volatility') || l.startsWith('shadowscale_whatif_'))).toEqual([]);
    expect(w7.filter((l) => l.startsWith('shadowscale_serving_rung{'))).toHaveLength(4);
  });

  it('writes the exposition format promtool accepts, label values escaped', async () => {
    const { loop, states } = fleet(20);
    // Names the configuration would refuse, to see the escaping.
    (states[3].config as { name: string }).name = 'a"b\\c\nd';
    const exposition = text(await createAdapterMetrics(loop, 600).render());
    expect(exposition).toContain('shadowscale_observed_load{workload="a\\"b\\\\c\\nd",namespace="bench"} 0.3');
    // promtool lints prom-client's process metrics (gauges named *_total); everything else must pass clean.
    const ours = exposition
      .split('\n\n')
      .filter((family) => !family.startsWith('# HELP shadowscale_adapter_'))
      .join('\n\n');
    const run = spawnSync('promtool', ['check', 'metrics'], { input: ours, encoding: 'utf8' });
    expect(run.error).toBeUndefined();
    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
    // And the check can fail: a sample line with an unescaped quote in a label value.
    const broken = spawnSync('promtool', ['check', 'metrics'], { input: `${ours}shadowscale_observed_load{workload="a"b"} 1\n`, encoding: 'utf8' });
    expect(broken.status).not.toBe(0);
  });

  it('formats a metric family exactly as prom-client does, escapes included, in slices of its series', async () => {
    const registry = new Registry();
    const gauge = new Gauge({ name: 'g', help: 'a help with a \\ backslash\nand a newline', labelNames: ['workload', 'note'], registers: [registry] });
    for (let i = 0; i < 600; i++) gauge.set({ workload: `w${i}`, note: i % 2 ? 'say "hi"\\now\nthen' : 'plain' }, i % 3 ? i / 7 : i % 2 ? Infinity : -Infinity);
    const histogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['api'], buckets: [0.1, 1], registers: [registry] });
    histogram.observe({ api: 'external' }, 0.05);
    histogram.observe({ api: 'keda' }, 3);
    const counter = new Counter({ name: 'c_total', help: 'c', registers: [registry] });
    counter.inc(2);
    for (const m of [gauge, histogram, counter]) expect(await formatSliced(await m.get())).toBe(await registry.getSingleMetricAsString((await m.get()).name));
    // A turn of the event loop between slices.
    let turns = 0;
    const tick = () => {
      turns++;
      if (turns < 1000) setImmediate(tick);
    };
    setImmediate(tick);
    const before = turns;
    await formatSliced(await gauge.get());
    expect(turns - before).toBeGreaterThanOrEqual(2);
  });

  it('lets timers and I/O run while it renders', async () => {
    const { loop } = fleet(1000);
    // Slices as short as they go (every 20 workloads), so the count of turns does not depend on this machine's speed.
    const metrics = createAdapterMetrics(loop, 600, 0);
    let turns = 0;
    let rendering = true;
    const tick = () => {
      turns++;
      if (rendering) setImmediate(tick);
    };
    setImmediate(tick);
    await metrics.render();
    rendering = false;
    // At least one turn of the event loop per 20 workloads of each of the 26 per-workload gauges.
    expect(turns).toBeGreaterThan((1000 / 20) * 26);
  });

  it('writes what changed since the last scrape, as a rendering from scratch would', async () => {
    const { loop, states } = fleet(60);
    const metrics = createAdapterMetrics(loop, 600);
    const before = workloadLines(text(await metrics.render()));
    // A new observation, a score, a value that becomes unknown, a renamed workload, a label that changes.
    states[3].observed = { value: 42.5, at: NOW_MS / 1000 };
    states[5].score = { relMae: 0.7, mae: 2, coverage80: 0.8, coverage95: 0.95, folds: 6, at: NOW_MS } as WorkloadSnapshot['score'];
    (states[5] as { chosenModel?: string }).chosenModel = 'ets';
    states[8].riseHeadroom = undefined;
    (states[9].config as { name: string }).name = 'renamed';
    states[10].latencySloBucket = '0.25';
    const after = workloadLines(text(await metrics.render()));
    expect(after).toEqual(workloadLines(text(await createAdapterMetrics(loop, 600).render())));
    expect(after).not.toEqual(before);
    expect(after).toContain('shadowscale_observed_load{workload="w-3",namespace="bench"} 42.5');
    expect(after).toContain('shadowscale_backtest_error{workload="w-5",namespace="bench",metric="relative_mae"} 0.7');
    expect(after.filter((l) => l.startsWith('shadowscale_load_headroom{workload="w-8",'))).toEqual([]);
    expect(after.filter((l) => l.includes('workload="w-9",'))).toEqual([]);
    expect(after.filter((l) => l.includes('workload="renamed",'))).toHaveLength(before.filter((l) => l.includes('workload="w-9",')).length);
    expect(after).toContain(`shadowscale_workload_latency_slo_bucket{workload="w-10",namespace="bench",le="0.25"} ${states[10].config.slo.latencyP99}`);
    // And back: the value written before is written again.
    states[10].latencySloBucket = undefined;
    expect(workloadLines(text(await metrics.render())).filter((l) => l.includes('latency_slo_bucket{workload="w-10"'))).toEqual([]);
  });

  it('writes the same text whatever the slices, in a chunk a slice', async () => {
    const { loop } = fleet(300);
    const sliced = await createAdapterMetrics(loop, 600, 0).render();
    const whole = await createAdapterMetrics(loop, 600, Infinity).render();
    // Unsliced, a chunk for each of prom-client's families and one for the per-workload gauges; sliced
    // at every 20 workloads, many more.
    expect(whole.length).toBe(createAdapterMetrics(loop, 600).registry.getMetricsAsArray().length + 1);
    expect(sliced.length).toBeGreaterThan(whole.length + 100);
    // The process's own families differ from one rendering to the next; the rest is the same text.
    const ours = (chunks: Buffer[]) =>
      text(chunks)
        .split('\n\n')
        .filter((family) => !family.startsWith('# HELP shadowscale_adapter_'));
    expect(ours(sliced)).toEqual(ours(whole));
    // Every family is one block: its HELP and TYPE, then its samples.
    for (const family of ours(sliced)) expect(family).toMatch(/^# HELP \S+ .*\n# TYPE \S+ \w+(\n[^#\n][^\n]*)*\n?$/);
  });
});

describe('writeChunks', () => {
  /** A server on a free loopback port whose every request is answered by `handle`. */
  async function serve(handle: (res: ServerResponse) => Promise<void>) {
    const finished: Promise<void>[] = [];
    const server = createServer((_req, res) => void finished.push(handle(res)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { port, finished, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  /** A server that answers with writeChunks and counts the turns of the event loop while it writes. */
  async function serveCountingTurns(contentType: string, chunks: Buffer[]) {
    let turns = 0;
    const server = await serve(async (res) => {
      let writing = true;
      const tick = () => {
        turns++;
        if (writing) setImmediate(tick);
      };
      setImmediate(tick);
      await writeChunks(res, contentType, chunks);
      writing = false;
    });
    return { server, turns: () => turns };
  }

  it('sends the rendering with its length, a piece at each turn of the event loop', async () => {
    const { loop } = fleet(1000);
    const chunks = await createAdapterMetrics(loop, 600).render();
    const body = Buffer.concat(chunks);
    const { server, turns } = await serveCountingTurns('text/plain; version=0.0.4; charset=utf-8', chunks);
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(response.headers.get('content-length')).toBe(String(body.length));
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(Buffer.from(await response.arrayBuffer()).equals(body)).toBe(true);
      await Promise.all(server.finished);
      // Some 2 MB in pieces of at most 64 KB, one a turn.
      expect(body.length).toBeGreaterThan(1_000_000);
      expect(turns()).toBeGreaterThanOrEqual(Math.floor(body.length / (64 * 1024)));
    } finally {
      await server.close();
    }
  });

  it('yields a turn after every piece, also when each piece fills the response and drains at once', async () => {
    // One 2 MB chunk: each 64 KB piece is over the response's buffer, so write() says wait for
    // 'drain', which a loopback socket that takes it at once emits within the same turn.
    const chunks = [Buffer.alloc(2 * 1024 * 1024, 'y')];
    const { server, turns } = await serveCountingTurns('text/plain', chunks);
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect((await response.arrayBuffer()).byteLength).toBe(2 * 1024 * 1024);
      await Promise.all(server.finished);
      expect(turns()).toBeGreaterThanOrEqual(32);
    } finally {
      await server.close();
    }
  });

  it('stops when the client goes away, without an error', async () => {
    // 8 MB that a client reading nothing cannot take in at once: the writes wait for the socket.
    const chunks = Array.from({ length: 128 }, () => Buffer.alloc(64 * 1024, 'x'));
    const server = await serve((res) => writeChunks(res, 'text/plain', chunks));
    try {
      const socket = connect(server.port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      // Wait for the answer to start, then leave without reading the rest.
      await new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.pause();
      await new Promise((r) => setTimeout(r, 50));
      socket.destroy();
      await expect(Promise.race([Promise.all(server.finished), new Promise((_, reject) => setTimeout(() => reject(new Error('writeChunks still writing 5 s after the client left')), 5000))])).resolves.toBeDefined();
    } finally {
      await server.close();
    }
  });
});
