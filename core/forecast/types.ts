/**
 * Types shared by the forecasting engine. Everything here is plain data: no I/O, no WASM handles.
 */

/** A load series as Prometheus returns it: unix seconds and values that may be NaN or ±Inf. */
export interface Series {
  timestamps: readonly number[];
  values: readonly number[];
}

/** The models a workload can ask for; `auto` picks one of the others by rolling-origin backtest. */
export const MODEL_NAMES = ['mstl', 'ets', 'prophet', 'seasonal-naive', 'holt-winters', 'moving-median'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
export type ModelChoice = ModelName | 'auto';

/** The last rung of every fallback ladder: repeat the last value. Not selectable, always available. */
export type Rung = ModelName | 'naive';

/** Prediction-interval levels every forecast carries. */
export const LEVELS = [0.8, 0.95] as const;
export type Level = (typeof LEVELS)[number];

export interface Band {
  lower: number[];
  upper: number[];
}

/** What a model returns for a regular, clean, gap-free series. */
export interface ModelOutput {
  point: number[];
  intervals: Record<Level, Band>;
  /** Model-specific detail worth showing a user, e.g. `periods=[60,1440]` or `alpha=0.3`. */
  detail?: string;
}

export interface FitContext {
  /** Seasonal periods in steps, shortest first, each with at least two full cycles in `y`. */
  periods: readonly number[];
  /** The period a single-season model uses (the most regular one), if any. */
  dominantPeriod?: number;
  stepSeconds: number;
  /** Unix seconds of y[0]. */
  startSeconds: number;
}

/**
 * One forecasting model. Implementations are pure apart from the WASM they call; they may throw
 * `InsufficientHistoryError` when the series is too short for them, and the engine then falls back.
 */
export interface ForecastModel {
  readonly name: ModelName;
  /** Models one rung down, tried in order when this one cannot fit. */
  readonly fallbacks: readonly Rung[];
  forecast(y: Float64Array, horizon: number, ctx: FitContext): ModelOutput;
}

export class InsufficientHistoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InsufficientHistoryError';
  }
}

/** A user-facing input error: names what was wrong and where. */
export class ForecastInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForecastInputError';
  }
}

/** The engine's answer: a forecast on a regular grid starting one step after the last observation. */
export interface Forecast {
  /** What was asked for. */
  model: ModelChoice;
  /** What actually produced the numbers after the fallback ladder (`naive` is the last rung). */
  rung: Rung;
  /** Why the ladder was descended, one entry per rung skipped; empty when the requested model ran. */
  fallbackReasons: string[];
  detail?: string;
  /** Unix seconds of point[0]. */
  start: number;
  stepSeconds: number;
  point: number[];
  intervals: Record<Level, Band>;
  /** Seasonal periods (in steps) detected or given, before any was dropped for short history. */
  periods: number[];
  /** What preparation did to the input (imputed gaps, dropped NaN, cleaned outliers...). */
  warnings: string[];
}

/** The models `auto` chooses among by default (their rolling-origin backtest decides). */
export const DEFAULT_AUTO_CANDIDATES: readonly ModelName[] = ['mstl', 'ets', 'seasonal-naive', 'holt-winters', 'moving-median'];

/**
 * How the adapter (and the simulator, which replays it) rescores a workload every hour, at the
 * provisioning lag's horizon: six evenly spread windows for the trust score, and six more where the
 * load rose most for `auto`'s choice (the backtest's `riseWindows`).
 */
export const LAG_RESCORE = { folds: 6, selectionWindows: 0, riseWindows: 6 } as const;
