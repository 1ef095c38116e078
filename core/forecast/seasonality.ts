/**
 * Seasonality detection by autocorrelation at calendar periods. Load follows people, so the periods
 * worth testing are the hour, the day and the week; a free periodogram search (augurs' `seasons`)
 * gave periods such as 4,094 minutes on a month of NASA HTTP traffic, which no model should use.
 */

const CALENDAR_PERIODS_SECONDS = [3600, 86_400, 604_800];

export interface DetectedPeriod {
  period: number;
  acf: number;
}

export interface DetectOptions {
  /** Minimum autocorrelation at the period. */
  threshold?: number;
  /** How much the period must beat the half period (or the shorter period it is a multiple of). */
  margin?: number;
}

/**
 * Returns the calendar periods (in steps) that show in `y`, shortest first. A period is accepted when
 * the series holds two full cycles, the autocorrelation at that lag passes `threshold`, and it beats
 * the autocorrelation half a period away by `margin`: a slowly varying series is correlated at every
 * short lag, but only a real cycle is more alike one period apart than half a period apart. A period
 * that is a multiple of an accepted one (the week over the day) must also beat the shorter one, or it
 * adds nothing a model can use.
 */
export function detectPeriods(y: Float64Array, stepSeconds: number, options: DetectOptions = {}): DetectedPeriod[] {
  const threshold = options.threshold ?? 0.3;
  const margin = options.margin ?? 0.05;
  const detrended = removeLinearTrend(y);
  const accepted: DetectedPeriod[] = [];
  for (const seconds of CALENDAR_PERIODS_SECONDS) {
    const period = Math.round(seconds / stepSeconds);
    if (period < 4 || y.length < 2 * period) continue;
    const r = autocorrelation(detrended, period);
    if (!(r >= threshold)) continue;
    if (!(r >= autocorrelation(detrended, Math.round(period / 2)) + margin)) continue;
    const shorter = accepted.find((p) => period % p.period === 0);
    if (shorter && !(r >= shorter.acf + margin)) continue;
    accepted.push({ period, acf: r });
  }
  return accepted;
}

/** The period a single-season model should use: the one most alike from cycle to cycle. */
export function dominantPeriod(periods: readonly DetectedPeriod[]): number | undefined {
  let best: DetectedPeriod | undefined;
  for (const p of periods) if (!best || p.acf > best.acf) best = p;
  return best?.period;
}

export function autocorrelation(y: Float64Array, lag: number): number {
  const n = y.length;
  if (lag <= 0 || lag >= n) return NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i];
  mean /= n;
  let denominator = 0;
  for (let i = 0; i < n; i++) denominator += (y[i] - mean) ** 2;
  if (denominator === 0) return NaN; // a constant series has no seasonality to find
  let numerator = 0;
  for (let i = lag; i < n; i++) numerator += (y[i] - mean) * (y[i - lag] - mean);
  return numerator / denominator;
}

function removeLinearTrend(y: Float64Array): Float64Array {
  const n = y.length;
  const xMean = (n - 1) / 2;
  let yMean = 0;
  for (let i = 0; i < n; i++) yMean += y[i];
  yMean /= n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (i - xMean) * (y[i] - yMean);
    sxx += (i - xMean) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = y[i] - yMean - slope * (i - xMean);
  return out;
}
