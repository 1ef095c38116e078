/**
 * Forecasts for the simulated policies, refitted on a schedule as they would be live: at each refit
 * the model sees the trace up to that moment only, aggregated to the fit step, and forecasts far
 * enough to cover the time until the next refit plus the provisioning lag.
 */
import { backtest, DEFAULT_AUTO_CANDIDATES } from '../forecast/backtest.ts';
import { fitWithLadder, prepareHistory } from '../forecast/ladder.ts';
import type { ModelChoice, ModelName } from '../forecast/types.ts';
import type { ForecastGrid } from '../planner/serving.ts';
import { isTrusted } from '../planner/planner.ts';
import type { Trace } from './trace.ts';

export interface ForecasterSpec {
  model: ModelChoice;
  fitStepSeconds: number;
  historySeconds: number;
  refitSeconds: number;
  /** How often `auto` is re-chosen and trust re-measured by backtest. */
  rescoreSeconds: number;
  lagSeconds: number;
}

/** A forecast as the adapter keeps one: on its step grid, from the end of the history it was fitted on. */
export type StoredForecast = ForecastGrid;

export class ScheduledForecaster {
  private forecast?: StoredForecast;
  private nextFit = -Infinity;
  private nextScore = -Infinity;
  private chosen: ModelName;
  trusted = false;
  fits = 0;

  /** Trace points per fitted point, and the fit's step: the fit step in whole trace points, never finer than the trace. */
  private readonly perBucket: number;
  private readonly step: number;

  constructor(private readonly trace: Trace, private readonly spec: ForecasterSpec) {
    this.chosen = spec.model === 'auto' ? DEFAULT_AUTO_CANDIDATES[0] : spec.model;
    // A trace coarser than the fit step is fitted at its own step: its points are held, so a finer
    // grid would only repeat them (and cost as many more points a fit).
    this.perBucket = Math.max(1, Math.round(spec.fitStepSeconds / trace.stepSeconds));
    this.step = this.perBucket * trace.stepSeconds;
  }

  /**
   * What the fits depend on, beyond the trace and the times they are asked at: two specs with the same
   * key fit the very same forecasts. The lag only sets the horizons, which at a 5-minute step are the
   * same for lags of 1, 2 and 5 minutes.
   */
  static fitKey(trace: Trace, spec: ForecasterSpec): string {
    const f = new ScheduledForecaster(trace, spec);
    return JSON.stringify([spec.model, f.step, spec.historySeconds, spec.refitSeconds, spec.rescoreSeconds, f.horizon(), f.scoreHorizon()]);
  }

  /** Fitted steps: to the next refit and one lag beyond. */
  private horizon(): number {
    return Math.ceil((this.spec.refitSeconds + this.spec.lagSeconds) / this.step) + 1;
  }

  /** The backtest's horizon: one lag. */
  private scoreHorizon(): number {
    return Math.max(1, Math.ceil(this.spec.lagSeconds / this.step));
  }

  /** The forecast valid at `now`, refitted first if it is due. */
  at(now: number): StoredForecast | undefined {
    if (now >= this.nextFit) {
      this.refit(now);
      this.nextFit = now + this.spec.refitSeconds;
    }
    return this.forecast;
  }

  private history(now: number): { values: Float64Array; start: number } {
    const { trace, perBucket } = this;
    // Only what has happened by `now`, in whole buckets.
    const available = Math.max(0, Math.min(trace.values.length, Math.floor((now - trace.start) / trace.stepSeconds)));
    const buckets = Math.floor(available / perBucket);
    const keep = Math.min(buckets, Math.floor(this.spec.historySeconds / this.step));
    const first = buckets - keep;
    const values = new Float64Array(keep);
    for (let b = 0; b < keep; b++) {
      let sum = 0;
      for (let k = 0; k < perBucket; k++) sum += trace.values[(first + b) * perBucket + k];
      values[b] = sum / perBucket;
    }
    return { values, start: trace.start + first * this.step };
  }

  private refit(now: number): void {
    const { values, start } = this.history(now);
    if (values.length < 2) return;
    const step = this.step;
    const horizon = this.horizon();
    if (now >= this.nextScore) {
      this.rescore(values, start);
      this.nextScore = now + this.spec.rescoreSeconds;
    }
    const history = prepareHistory(values, { horizon, stepSeconds: step, startSeconds: start });
    const fit = fitWithLadder(history, this.chosen, horizon);
    this.fits++;
    this.forecast = { start: start + values.length * step, stepSeconds: step, point: fit.point, intervals: fit.intervals };
  }

  private rescore(values: Float64Array, start: number): void {
    const candidates = this.spec.model === 'auto' ? DEFAULT_AUTO_CANDIDATES : [this.spec.model as ModelName];
    try {
      const result = backtest(values, {
        horizon: this.scoreHorizon(),
        folds: 6,
        selectionWindows: 0,
        models: candidates,
        autoCandidates: candidates,
        stepSeconds: this.step,
        startSeconds: start,
      });
      this.chosen = result.selected;
      this.trusted = isTrusted(result.models.find((m) => m.model === this.chosen));
    } catch {
      // Too little history to backtest yet: keep the model, untrusted.
      this.trusted = false;
    }
  }
}

/** What a policy reads forecasts from: a live forecaster, or a replay of one (`ForecastRecording`). */
export interface ForecastSource {
  at(now: number): StoredForecast | undefined;
  readonly trusted: boolean;
  readonly fits: number;
}

/**
 * The forecasts of one trace under one forecaster spec, fitted once and replayed: runs of policies that
 * differ only in what they do with the forecasts (a headroom setting tuned over a grid) read the same
 * fits without paying for them again. Exact as long as every run asks at the same times (the same
 * simulation spec), which is what the fits being deterministic then guarantees.
 */
export class ForecastRecording {
  private readonly live: ScheduledForecaster;
  private readonly fitsAt: Array<{ at: number; forecast?: StoredForecast; trusted: boolean }> = [];
  private reached = -Infinity;

  constructor(trace: Trace, spec: ForecasterSpec) {
    this.live = new ScheduledForecaster(trace, spec);
  }

  /** A reader from the beginning; calls must come in time order, as a simulation's do. */
  reader(): ForecastSource {
    let i = -1;
    let trusted = false;
    let fits = 0;
    const self = this;
    return {
      at(now: number) {
        if (now > self.reached) {
          const before = self.live.fits;
          const forecast = self.live.at(now);
          if (self.live.fits !== before || self.fitsAt.length === 0) self.fitsAt.push({ at: now, forecast, trusted: self.live.trusted });
          self.reached = now;
        }
        while (i + 1 < self.fitsAt.length && self.fitsAt[i + 1].at <= now) {
          i++;
          fits++;
        }
        trusted = i >= 0 ? self.fitsAt[i].trusted : false;
        return i >= 0 ? self.fitsAt[i].forecast : undefined;
      },
      get trusted() {
        return trusted;
      },
      get fits() {
        return fits;
      },
    };
  }
}

/** Recordings per forecaster spec (by what the fits depend on), for the runs on one trace: runs at other lags or capacities share them. */
export class ForecastCache {
  private readonly recordings = new Map<string, ForecastRecording>();
  constructor(private readonly trace: Trace) {}

  reader(spec: ForecasterSpec): ForecastSource {
    const key = ScheduledForecaster.fitKey(this.trace, spec);
    let r = this.recordings.get(key);
    if (!r) this.recordings.set(key, (r = new ForecastRecording(this.trace, spec)));
    return r.reader();
  }
}
