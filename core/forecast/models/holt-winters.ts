/**
 * Additive Holt-Winters, the method of the Predictive Horizontal Pod Autoscaler, kept as the baseline
 * shadowscale must beat. augurs' AutoETS has no seasonal component, so this is the one model written
 * here: the three smoothing recursions in error-correction form, with (alpha, beta, gamma) chosen on a
 * grid by one-step squared error (the Predictive HPA asks the user for them instead).
 */
import { residualBands } from '../intervals.ts';
import { InsufficientHistoryError, type FitContext, type ForecastModel, type ModelOutput } from '../types.ts';

interface Params {
  alpha: number;
  beta: number;
  gamma: number;
}

const ALPHAS = [0.05, 0.1, 0.2, 0.4, 0.6, 0.8];
const BETAS = [0, 0.001, 0.01, 0.05];
const GAMMAS = [0.01, 0.05, 0.1, 0.2, 0.4];

interface Run {
  sse: number;
  level: number;
  trend: number;
  season: Float64Array;
  residuals: Float64Array;
}

function run(y: Float64Array, m: number, p: Params, keepResiduals: boolean): Run {
  // Initial state from the first two cycles: level = mean of cycle 1, trend = mean change per step
  // between cycles 1 and 2, season = cycle 1 minus its mean.
  let mean1 = 0;
  let mean2 = 0;
  for (let i = 0; i < m; i++) {
    mean1 += y[i];
    mean2 += y[m + i];
  }
  mean1 /= m;
  mean2 /= m;
  let level = mean1;
  let trend = (mean2 - mean1) / m;
  const season = new Float64Array(m);
  for (let i = 0; i < m; i++) season[i] = y[i] - mean1;
  const residuals = keepResiduals ? new Float64Array(y.length - m) : new Float64Array(0);
  let sse = 0;
  for (let t = 0; t < y.length; t++) {
    const s = t % m;
    const e = y[t] - (level + trend + season[s]);
    level = level + trend + p.alpha * e;
    trend = trend + p.beta * e;
    season[s] += p.gamma * e;
    // The first cycle was used to initialise the state; its errors say nothing about the fit.
    if (t >= m) {
      sse += e * e;
      if (keepResiduals) residuals[t - m] = e;
    }
  }
  return { sse, level, trend, season, residuals };
}

export const holtWintersModel: ForecastModel = {
  name: 'holt-winters',
  fallbacks: ['ets', 'naive'],
  forecast(y: Float64Array, horizon: number, ctx: FitContext): ModelOutput {
    const m = ctx.dominantPeriod;
    if (m === undefined || y.length < 2 * m) {
      throw new InsufficientHistoryError('no seasonal period with two full cycles in the history');
    }
    let best: Params | undefined;
    let bestSse = Infinity;
    for (const alpha of ALPHAS) {
      for (const beta of BETAS) {
        if (beta > alpha) continue;
        for (const gamma of GAMMAS) {
          if (gamma > 1 - alpha) continue;
          const { sse } = run(y, m, { alpha, beta, gamma }, false);
          if (sse < bestSse) {
            bestSse = sse;
            best = { alpha, beta, gamma };
          }
        }
      }
    }
    if (!best || !Number.isFinite(bestSse)) throw new Error('Holt-Winters diverged for every parameter set');
    const fit = run(y, m, best, true);
    const n = y.length;
    const point: number[] = [];
    const spread: number[] = [];
    // Variance of the h-step error relative to one step: 1 + sum_{j<h} c_j^2 with
    // c_j = alpha + beta*j + gamma*[j is a whole number of cycles] (additive ETS(A,A,A)).
    let accumulated = 1;
    for (let h = 1; h <= horizon; h++) {
      point.push(fit.level + h * fit.trend + fit.season[(n + h - 1) % m]);
      spread.push(Math.sqrt(accumulated));
      const c = best.alpha + best.beta * h + (h % m === 0 ? best.gamma : 0);
      accumulated += c * c;
    }
    return {
      point,
      intervals: residualBands(point, fit.residuals, spread),
      detail: `period=${m} alpha=${best.alpha} beta=${best.beta} gamma=${best.gamma}`,
    };
  },
};
