/**
 * Forecasts for the simulated policies, refitted on a schedule as they would be live: at each refit
 * the model sees the trace up to that moment only, aggregated to the fit step, and forecasts far
 * enough to cover the time until the next refit plus the provisioning lag.
 */
import { backtest, DEFAULT_AUTO_CANDIDATES, LAG_RESCORE } from '../forecast/backtest.ts';
import { fitWithLadder, prepareHistory } from '../forecast/ladder.ts';
import type { ModelChoice, ModelName } from '../forecast/types.ts';
import { forecastWindowRange, type ForecastGrid } from '../planner/serving.ts';
import { isTrusted } from '../planner/planner.ts';
import { peakLoad, sampledAt, type Trace } from './trace.ts';

export interface ForecasterSpec {
  model: ModelChoice;
  fitStepSeconds: number;
  historySeconds: number;
  refitSeconds: number;
  /** How often `auto` is re-chosen and trust re-measured by backtest. */
  rescoreSeconds: number;
  lagSeconds: number;
  /**
   * A bound for reading, never the product: at each refit every candidate is fitted, and the one kept
   * is the one whose peak over each lag until the next refit came closest to the trace's true peak,
   * known only afterwards (`hindsightLoss`): the best choice among the candidates for that error. Not
   * for the unserved load: a symmetric error favours the smoother candidate, which misses rises.
   */
  hindsight?: boolean;
}

/** A forecast as the adapter keeps one: on its step grid, from the end of the history it was fitted on. */
export type StoredForecast = ForecastGrid;

/** A backtest's outcome: the model it chose (none when the history was too short to backtest) and whether it is trusted. */
export interface Score {
  selected?: ModelName;
  trusted: boolean;
}

/**
 * What a scheduled forecaster computes: the backtests and the fits, each a function of the trace up to
 * its time only. Computed here by default (`TraceFits`); a simulation on several threads computes them
 * ahead, in parallel, and hands them in (`PrecomputedFits`), the schedule staying the forecaster's.
 */
export interface FitComputer {
  score(at: number): Score;
  fit(at: number, model: ModelName): StoredForecast;
}

/** The fits and backtests on one trace under one spec: the history as the adapter would have it at each time. */
export class TraceFits implements FitComputer {
  /** Trace points per fitted point, and the fit's step: the fit step in whole trace points, never finer than the trace. */
  readonly perBucket: number;
  readonly step: number;

  constructor(private readonly trace: Trace, private readonly spec: ForecasterSpec) {
    // A trace coarser than the fit step is fitted at its own step: its points are held, so a finer
    // grid would only repeat them (and cost as many more points a fit).
    this.perBucket = Math.max(1, Math.round(spec.fitStepSeconds / trace.stepSeconds));
    this.step = this.perBucket * trace.stepSeconds;
  }

  /** Fitted steps: to the next refit and one lag beyond. */
  horizon(): number {
    return Math.ceil((this.spec.refitSeconds + this.spec.lagSeconds) / this.step) + 1;
  }

  /** The backtest's horizon: one lag. */
  scoreHorizon(): number {
    return Math.max(1, Math.ceil(this.spec.lagSeconds / this.step));
  }

  /** How many fit steps of history exist at `now` (only what has happened by then, in whole buckets, at most the history kept). */
  historyLength(now: number): number {
    const { trace, perBucket } = this;
    const available = Math.max(0, Math.min(trace.values.length, Math.floor((now - trace.start) / trace.stepSeconds)));
    return Math.min(Math.floor(available / perBucket), Math.floor(this.spec.historySeconds / this.step));
  }

  history(now: number): { values: Float64Array; start: number } {
    const { trace, perBucket } = this;
    const available = Math.max(0, Math.min(trace.values.length, Math.floor((now - trace.start) / trace.stepSeconds)));
    const buckets = Math.floor(available / perBucket);
    const keep = this.historyLength(now);
    const first = buckets - keep;
    const values = new Float64Array(keep);
    for (let b = 0; b < keep; b++) {
      let sum = 0;
      for (let k = 0; k < perBucket; k++) sum += trace.values[(first + b) * perBucket + k];
      values[b] = sum / perBucket;
    }
    return { values, start: trace.start + first * this.step };
  }

  fit(at: number, model: ModelName): StoredForecast {
    const { values, start } = this.history(at);
    const step = this.step;
    const horizon = this.horizon();
    const history = prepareHistory(values, { horizon, stepSeconds: step, startSeconds: start });
    const fit = fitWithLadder(history, model, horizon);
    return { start: start + values.length * step, stepSeconds: step, point: fit.point, intervals: fit.intervals };
  }

  score(at: number): Score {
    const { values, start } = this.history(at);
    const candidates = this.spec.model === 'auto' ? DEFAULT_AUTO_CANDIDATES : [this.spec.model as ModelName];
    try {
      const result = backtest(values, {
        horizon: this.scoreHorizon(),
        ...LAG_RESCORE,
        models: candidates,
        autoCandidates: candidates,
        stepSeconds: this.step,
        startSeconds: start,
      });
      return { selected: result.selected, trusted: isTrusted(result.models.find((m) => m.model === result.selected)) };
    } catch {
      // Too little history to backtest yet: the model is kept, untrusted.
      return { trusted: false };
    }
  }
}

/** Backtests and fits computed ahead (by `TraceFits` on other threads), as plain data a worker can be sent. */
export interface PrecomputedForecasts {
  /** `ScheduledForecaster.fitKey` of the spec they were computed for. */
  key: string;
  scores: Array<[at: number, score: Score]>;
  fits: Array<[at: number, model: ModelName, forecast: StoredForecast]>;
}

/** A `FitComputer` that only looks up what was computed ahead; asked for anything else, it says so rather than compute something different. */
export class PrecomputedFits implements FitComputer {
  private readonly scores: Map<number, Score>;
  private readonly fits: Map<string, StoredForecast>;

  constructor(private readonly data: PrecomputedForecasts) {
    this.scores = new Map(data.scores);
    this.fits = new Map(data.fits.map(([at, model, f]) => [`${at}/${model}`, f]));
  }

  score(at: number): Score {
    const s = this.scores.get(at);
    if (!s) throw new Error(`no backtest was computed ahead at ${at} for forecaster ${this.data.key}: the forecasts were computed for other ask times`);
    return s;
  }

  fit(at: number, model: ModelName): StoredForecast {
    const f = this.fits.get(`${at}/${model}`);
    if (!f) throw new Error(`no ${model} fit was computed ahead at ${at} for forecaster ${this.data.key}: the forecasts were computed for other ask times`);
    return f;
  }
}

/**
 * The work a forecaster asked at `asks` does, without doing it: the times of its backtests, and (given
 * their outcomes) the model fitted at each refit. The schedule does not depend on what the fits return,
 * so the backtests, then the fits, can be computed in any order, on any thread.
 */
export function plannedScores(trace: Trace, spec: ForecasterSpec, asks: Iterable<number>): number[] {
  const ats: number[] = [];
  const f = new ScheduledForecaster(trace, spec, {
    score: (at) => (ats.push(at), { trusted: false }),
    fit: () => EMPTY_FORECAST,
  });
  for (const now of asks) f.at(now);
  return ats;
}

export function plannedFits(trace: Trace, spec: ForecasterSpec, asks: Iterable<number>, scores: Array<[number, Score]>): Array<[number, ModelName]> {
  const requests: Array<[number, ModelName]> = [];
  const known = new PrecomputedFits({ key: ScheduledForecaster.fitKey(trace, spec), scores, fits: [] });
  const f = new ScheduledForecaster(trace, spec, {
    score: (at) => known.score(at),
    fit: (at, model) => (requests.push([at, model]), EMPTY_FORECAST),
  });
  for (const now of asks) f.at(now);
  return requests;
}

const EMPTY_FORECAST: StoredForecast = { start: 0, stepSeconds: 1, point: [], intervals: {} as StoredForecast['intervals'] };

/**
 * A forecast refitted on a schedule as the adapter refits it: every `refitSeconds` on the history up to
 * then, the model re-chosen (`auto`) and trust re-measured by backtest every `rescoreSeconds`.
 */
export class ScheduledForecaster {
  private forecast?: StoredForecast;
  private nextFit = -Infinity;
  private nextScore = -Infinity;
  private chosen: ModelName;
  private readonly geometry: TraceFits;
  private readonly computer: FitComputer;
  trusted = false;
  fits = 0;

  constructor(private readonly trace: Trace, private readonly spec: ForecasterSpec, computer?: FitComputer) {
    this.chosen = spec.model === 'auto' ? DEFAULT_AUTO_CANDIDATES[0] : spec.model;
    this.geometry = new TraceFits(trace, spec);
    this.computer = computer ?? this.geometry;
  }

  /**
   * What the fits depend on, beyond the trace and the times they are asked at: two specs with the same
   * key fit the very same forecasts. The lag only sets the horizons, which at a 5-minute step are the
   * same for lags of 1, 2 and 5 minutes.
   */
  static fitKey(trace: Trace, spec: ForecasterSpec): string {
    const g = new TraceFits(trace, spec);
    return JSON.stringify([spec.model, g.step, spec.historySeconds, spec.refitSeconds, spec.rescoreSeconds, g.horizon(), g.scoreHorizon(), ...(spec.hindsight ? ['hindsight', spec.lagSeconds] : [])]);
  }

  /** The forecast valid at `now`, refitted first if it is due. */
  at(now: number): StoredForecast | undefined {
    if (now >= this.nextFit) {
      this.refit(now);
      this.nextFit = now + this.spec.refitSeconds;
    }
    return this.forecast;
  }

  private refit(now: number): void {
    if (this.geometry.historyLength(now) < 2) return;
    if (now >= this.nextScore) {
      const s = this.computer.score(now);
      if (s.selected) this.chosen = s.selected;
      this.trusted = s.trusted;
      this.nextScore = now + this.spec.rescoreSeconds;
    }
    if (this.spec.hindsight) {
      const candidates = this.spec.model === 'auto' ? DEFAULT_AUTO_CANDIDATES : [this.spec.model];
      let kept: { loss: number; forecast: StoredForecast } | undefined;
      for (const model of candidates) {
        const forecast = this.computer.fit(now, model);
        const loss = hindsightLoss(this.trace, forecast, now, now + this.spec.refitSeconds, this.spec.lagSeconds);
        if (!kept || loss < kept.loss) kept = { loss, forecast };
      }
      this.forecast = kept!.forecast;
    } else {
      this.forecast = this.computer.fit(now, this.chosen);
    }
    this.fits++;
  }
}

/**
 * The hindsight forecaster's loss: the mean absolute distance between the forecast's peak over a lag
 * and the trace's true peak over it, at each trace point from `from` to `to` that is a real sample: the
 * error bench:scaling reports as `peakError`, though that one is taken at every simulation tick, with
 * the forecast as the pipeline delivers it. Infinite when no point can be scored.
 */
export function hindsightLoss(trace: Trace, forecast: StoredForecast, from: number, to: number, lagSeconds: number): number {
  let sum = 0;
  let n = 0;
  const first = trace.start + Math.max(0, Math.ceil((from - trace.start) / trace.stepSeconds)) * trace.stepSeconds;
  for (let t = first; t < to; t += trace.stepSeconds) {
    if (!sampledAt(trace, t)) continue;
    const range = forecastWindowRange(forecast, t, lagSeconds);
    if (!range) continue;
    let peak = -Infinity;
    for (let i = range.first; i <= range.last; i++) if (Number.isFinite(forecast.point[i])) peak = Math.max(peak, forecast.point[i]);
    if (peak === -Infinity) continue;
    sum += Math.abs(peak - peakLoad(trace, t, t + lagSeconds));
    n++;
  }
  return n > 0 ? sum / n : Infinity;
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

  constructor(trace: Trace, spec: ForecasterSpec, computer?: FitComputer) {
    this.live = new ScheduledForecaster(trace, spec, computer);
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

/**
 * Recordings per forecaster spec (by what the fits depend on), for the runs on one trace: runs at other
 * lags or capacities share them. Forecasts computed ahead (`precomputed`) are replayed from there.
 */
export class ForecastCache {
  private readonly recordings = new Map<string, ForecastRecording>();
  private readonly precomputed: Map<string, PrecomputedForecasts>;

  constructor(private readonly trace: Trace, precomputed: PrecomputedForecasts[] = []) {
    this.precomputed = new Map(precomputed.map((p) => [p.key, p]));
  }

  reader(spec: ForecasterSpec): ForecastSource {
    const key = ScheduledForecaster.fitKey(this.trace, spec);
    let r = this.recordings.get(key);
    if (!r) {
      const ahead = this.precomputed.get(key);
      this.recordings.set(key, (r = new ForecastRecording(this.trace, spec, ahead && new PrecomputedFits(ahead))));
    }
    return r.reader();
  }
}
