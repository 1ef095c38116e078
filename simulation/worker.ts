/**
 * Runs policies' simulations in a worker thread, so the forecasting policies use both cores. Policies
 * of one job that fit the same forecasts (shadowscale with and without the warm pool) fit them once:
 * the first run records them and the next replays them (core/simulator/forecaster.ts ForecastCache).
 */
import { ForecastCache, TraceFits, type ForecasterSpec, type PrecomputedForecasts, type Score, type StoredForecast } from '../core/simulator/forecaster.ts';
import type { ModelName } from '../core/forecast/types.ts';
import { readFileSync } from 'node:fs';
import { parseSeriesCsv } from '../core/series/csv.ts';
import { traceFromSeries } from '../core/simulator/trace.ts';
import { simulateTraceAt, simulationSpec, type SimulationSettings } from './run.ts';
import type { SimulationReport } from './report.ts';
import { POLICIES, simulate, type PolicyResult, type SimulationSpec } from '../core/simulator/simulate.ts';
import type { Trace } from '../core/simulator/trace.ts';

export default function run(job: { trace: Trace; policies: string[]; spec: SimulationSpec; precomputed?: PrecomputedForecasts[] }): PolicyResult[] {
  const forecasts = new ForecastCache(job.trace, job.precomputed);
  return job.policies.map((policy) => simulate(job.trace, POLICIES[policy], job.spec, { forecasts }));
}

/** A share of a forecaster's backtests, computed ahead of its run (simulation/run.ts), named `scores` in Piscina. */
export function scores(job: { trace: Trace; spec: ForecasterSpec; ats: number[] }): Array<[number, Score]> {
  const fits = new TraceFits(job.trace, job.spec);
  return job.ats.map((at) => [at, fits.score(at)]);
}

/** A share of a forecaster's fits, named `fits` in Piscina. */
export function fits(job: { trace: Trace; spec: ForecasterSpec; requests: Array<[number, ModelName]> }): Array<[number, ModelName, StoredForecast]> {
  const fits = new TraceFits(job.trace, job.spec);
  return job.requests.map(([at, model]) => [at, model, fits.fit(at, model)]);
}

/** A benchmark's task: one trace file at several settings (`simulateTraceAt`), named `trace` in Piscina. */
export function trace(job: { file: string; name: string; zeroIsMissing: boolean; settings: SimulationSettings[]; policies: string[] }): { reports: SimulationReport[]; seconds: number } {
  const started = performance.now();
  const t = traceFromSeries(parseSeriesCsv(readFileSync(job.file, 'utf8'), job.file), { zeroIsMissing: job.zeroIsMissing });
  const reports = simulateTraceAt(t, job.settings.map((s) => simulationSpec(t, s)), job.policies, job.name);
  return { reports, seconds: (performance.now() - started) / 1000 };
}
