/**
 * Seasonal naive: the value one period ago. The reference every other model must beat (`relMae`).
 */
import { residualBands } from '../intervals.ts';
import { InsufficientHistoryError, type FitContext, type ForecastModel, type ModelOutput } from '../types.ts';

export const seasonalNaive: ForecastModel = {
  name: 'seasonal-naive',
  fallbacks: ['naive'],
  forecast(y: Float64Array, horizon: number, ctx: FitContext): ModelOutput {
    const m = ctx.dominantPeriod;
    if (m === undefined) {
      throw new InsufficientHistoryError('no seasonal period with two full cycles in the history');
    }
    const n = y.length;
    const point: number[] = [];
    const spread: number[] = [];
    for (let h = 1; h <= horizon; h++) {
      // k full cycles beyond the first: the forecast for h > m reuses the last observed cycle.
      const k = Math.floor((h - 1) / m);
      point.push(y[n - 1 + h - m * (k + 1)]);
      spread.push(Math.sqrt(k + 1));
    }
    const residuals = new Float64Array(n - m);
    for (let i = m; i < n; i++) residuals[i - m] = y[i] - y[i - m];
    return { point, intervals: residualBands(point, residuals, spread), detail: `period=${m}` };
  },
};
