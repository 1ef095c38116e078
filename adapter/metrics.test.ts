/**
 * /metrics of many workloads is rendered in slices, with the event loop free between them for the
 * HPA's and KEDA's requests, and says exactly what prom-client's own rendering says.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

import { parseConfig } from '../core/config.ts';
import type { ForecastLoop } from './forecast-loop.ts';
import { createAdapterMetrics, formatSliced } from './metrics.ts';
import { view, type WorkloadSnapshot } from './serving.ts';

const NOW_MS = 1_700_000_000_000;

function fleet(n: number) {
  const config = parseConfig(
    `prometheus: { url: "http://127.0.0.1:9" }\nworkloads:\n${Array.from({ length: n }, (_, i) => `  - { name: w-${i}, namespace: bench, load: up, capacityPerReplica: 5, primary: { name: w-${i}, maxReplicas: 20 }, shadow: { name: w-${i}-shadow, maxReplicas: 4 } }`).join('\n')}\n`,
  );
  const states: WorkloadSnapshot[] = config.workloads.map((w, i) => ({ config: w, lagSeconds: 120, pastForecasts: [], trusted: false, observed: { value: i / 10, at: NOW_MS / 1000 - 5 }, riseHeadroom: 1 + i / 100 }));
  let iterations = 0;
  const loop = {
    *all() {
      iterations++;
      for (const s of states) yield { state: s, view: view(s, NOW_MS, 600) };
    },
    nowSeconds: () => NOW_MS / 1000,
    scoreSpec: () => 'spec',
  } as unknown as ForecastLoop;
  return { loop, iterations: () => iterations };
}

/** The per-workload series only (the process's own metrics change from one rendering to the next). */
const workloadLines = (text: string) => text.split('\n').filter((l) => l.includes('workload="'));

describe('the adapter /metrics', () => {
  it('renders what prom-client renders, the workloads read once per scrape, concurrent scrapes sharing one rendering', async () => {
    const { loop, iterations } = fleet(250);
    const metrics = createAdapterMetrics(loop, 600);
    const [a, b] = await Promise.all([metrics.render(), metrics.render()]);
    expect(a).toBe(b);
    expect(iterations()).toBe(1);
    const own = await metrics.registry.metrics();
    expect(workloadLines(a)).toEqual(workloadLines(own));
    expect(workloadLines(a).filter((l) => l.startsWith('shadowscale_observed_load{'))).toHaveLength(250);
    // The same families, in the same order, as the exposition format wants them.
    const families = (text: string) => text.split('\n').filter((l) => l.startsWith('# TYPE'));
    expect(families(a)).toEqual(families(own));
    expect(a.endsWith('\n')).toBe(true);
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
    const metrics = createAdapterMetrics(loop, 600);
    let turns = 0;
    let rendering = true;
    const tick = () => {
      turns++;
      if (rendering) setImmediate(tick);
    };
    setImmediate(tick);
    await metrics.render();
    rendering = false;
    // At least one turn of the event loop per slice of 100 workloads of each per-workload gauge.
    expect(turns).toBeGreaterThan(50);
  });
});
