import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSeriesCsv } from '../core/series/csv.ts';
import { defaultSpec, hpaAtEqualCost, hpaFrontier, HpaRuns } from '../core/simulator/simulate.ts';
import { autoCapacity, traceFromSeries } from '../core/simulator/trace.ts';
import { runSimulation, simulateTraceAt } from './run.ts';

describe('a run with its forecasts computed ahead on worker threads', () => {
  it('reports exactly what the same run fitting live in one thread reports', async () => {
    const file = join(import.meta.dirname, '..', 'test', 'fixtures', 'nasa_http_1995-07-01_to_07-14_per_minute.csv');
    const trace = traceFromSeries(parseSeriesCsv(readFileSync(file, 'utf8'), file));
    const spec = defaultSpec({ capacityPerReplica: autoCapacity(trace), warmupSeconds: 12 * 86_400 });
    const policies = ['hpa', 'holt-winters', 'shadowscale', 'shadowscale+pool'];
    const [live] = simulateTraceAt(trace, [spec], policies, 'nasa');
    const { report, results } = await runSimulation(trace, spec, policies, 'nasa');
    expect(report).toEqual(live);
    // Forecasts were fitted (a backtest and a refit an hour at least), and both shadowscale runs read the same ones.
    const fits = results.map((r) => r.stats.fits);
    expect(fits[2]).toBeGreaterThan(40);
    expect(fits[3]).toBe(fits[2]);
    expect(fits[1]).toBe(fits[2]);

    // Priced at the serving set's cost as well: the HPA spending the policy's replica-seconds less its
    // shadows', found in runs of its own that start from the frontier; without shadows, equal cost.
    const [hpa, , shadowscale] = report.policies;
    expect(hpa.hpaUnservedAtServingCost).toBe(hpa.hpaUnservedAtEqualCost);
    expect(shadowscale.shadowReplicaSeconds).toBeGreaterThan(0);
    const runs = new HpaRuns(trace, spec);
    hpaFrontier(trace, spec, runs);
    const serving = hpaAtEqualCost(trace, spec, shadowscale.replicaSeconds - shadowscale.shadowReplicaSeconds, runs.fork());
    expect(shadowscale.hpaUnservedAtServingCost).toBe(serving.value);
    expect(serving.extrapolated).toBe(false);
    expect(shadowscale.hpaUnservedAtServingCost).not.toBe(shadowscale.hpaUnservedAtEqualCost);
  }, 180_000);
});
