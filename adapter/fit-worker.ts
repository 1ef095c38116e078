/**
 * Runs in a worker thread: fits are CPU-bound WASM (a fifth of a second for MSTL on a week of
 * minutes), and the event loop that answers the HPA must never wait for one.
 */
import { isMainThread } from 'node:worker_threads';

import { backtest, DEFAULT_AUTO_CANDIDATES, LAG_RESCORE, type ModelScore } from '../core/forecast/backtest.ts';
import { forecast, loadForecastModels } from '../core/forecast/engine.ts';
import { prepareSeries } from '../core/forecast/prepare.ts';
import { ForecastInputError, type Forecast, type ModelChoice, type ModelName } from '../core/forecast/types.ts';
import { idleThisThread } from '../platform/thread-priority.ts';

/**
 * Fits on a worker thread yield the CPU to the thread that answers requests (adapter/fit-pool.ts); why
 * not, if they cannot. Imported on a main thread (a test, a tool), it leaves that thread as it is.
 */
const notIdle = isMainThread ? undefined : idleThisThread();

export interface FitJob {
  timestamps: Float64Array;
  values: Float64Array;
  stepSeconds: number;
  horizon: number;
  model: ModelChoice;
  /** The model `auto` chose last time; reused until `rescore`. */
  chosenModel?: ModelName;
  /** Run the backtest (choice for `auto`, trust score for every model). */
  rescore: boolean;
  autoCandidates?: readonly ModelName[];
  maxHistory: number;
  /** Horizon of the backtest windows (the provisioning lag in steps). */
  scoreHorizon: number;
  /** Seasonal periods in steps, when configured (else detected). */
  periods?: number[];
}

export interface FitOutcome {
  forecast: Forecast;
  chosenModel: ModelName;
  /** Present when the job rescored: the backtest score of the model now in use. */
  score?: Pick<ModelScore, 'mae' | 'relMae' | 'coverage80' | 'coverage95'> & { folds: number };
  scoreError?: string;
  fitMs: number;
  /** Why this fit's thread is not at SCHED_IDLE (it is then only niced); absent when it is. */
  notIdle?: string;
}

let prophetLoaded: Promise<void> | undefined;

export default async function fit(job: FitJob): Promise<FitOutcome> {
  const started = performance.now();
  const candidates = job.autoCandidates ?? DEFAULT_AUTO_CANDIDATES;
  if (job.model === 'prophet' || candidates.includes('prophet')) {
    prophetLoaded ??= loadForecastModels();
    await prophetLoaded;
  }
  const series = { timestamps: Array.from(job.timestamps), values: Array.from(job.values) };
  let chosenModel: ModelName = job.model === 'auto' ? (job.chosenModel ?? candidates[0]) : job.model;
  let score: FitOutcome['score'];
  let scoreError: string | undefined;
  if (job.rescore) {
    try {
      // The same preparation as the forecast, then a short rolling-origin backtest at the lag.
      const prepared = prepareSeries(series, { stepSeconds: job.stepSeconds, maxPoints: job.maxHistory });
      const models = job.model === 'auto' ? candidates : [job.model];
      const result = backtest(prepared.values, {
        horizon: job.scoreHorizon,
        ...LAG_RESCORE,
        models,
        autoCandidates: models,
        stepSeconds: prepared.stepSeconds,
        startSeconds: prepared.start,
        sampled: prepared.sampled,
        ...(job.periods ? { periods: job.periods } : {}),
      });
      if (job.model === 'auto') chosenModel = result.selected;
      const s = result.models.find((m) => m.model === chosenModel)!;
      score = { mae: s.mae, relMae: s.relMae, coverage80: s.coverage80, coverage95: s.coverage95, folds: result.folds };
    } catch (error) {
      if (!(error instanceof ForecastInputError)) throw error;
      scoreError = error.message;
    }
  }
  const result = forecast(series, {
    model: chosenModel,
    horizon: job.horizon,
    stepSeconds: job.stepSeconds,
    maxHistory: job.maxHistory,
    ...(job.periods ? { periods: job.periods } : {}),
  });
  return { forecast: result, chosenModel, score, scoreError, fitMs: performance.now() - started, ...(notIdle ? { notIdle } : {}) };
}
