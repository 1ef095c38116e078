/**
 * MSTL (multiple seasonal-trend decomposition by Loess) with an AutoETS model of the deseasonalised
 * series: the default for load with daily and weekly cycles. MSTL needs two full cycles of every
 * period, which the engine guarantees by only passing such periods.
 */
import { mstl as loadMstl } from '../augurs.ts';
import { InsufficientHistoryError, type FitContext, type ForecastModel, type ModelOutput } from '../types.ts';
import { predictBothLevels } from './augurs-output.ts';

export const mstlModel: ForecastModel = {
  name: 'mstl',
  fallbacks: ['ets', 'naive'],
  forecast(y: Float64Array, horizon: number, ctx: FitContext): ModelOutput {
    if (ctx.periods.length === 0) {
      throw new InsufficientHistoryError('no seasonal period with two full cycles in the history');
    }
    const model = loadMstl().MSTL.ets([...ctx.periods]);
    try {
      model.fit(y);
      return predictBothLevels(model, horizon, `periods=[${ctx.periods.join(',')}]`);
    } finally {
      model.free();
    }
  },
};
