/**
 * AutoETS without a seasonal component (augurs' ETS has none): level and, if it pays, a trend, chosen
 * by AICc. The rung below MSTL when the history holds less than two cycles.
 */
import { ets as loadEts } from '../augurs.ts';
import { InsufficientHistoryError, type ForecastModel, type ModelOutput } from '../types.ts';
import { predictBothLevels } from './augurs-output.ts';

/** AutoETS refuses shorter series with "not enough data". */
const MIN_POINTS = 10;

export const etsModel: ForecastModel = {
  name: 'ets',
  fallbacks: ['naive'],
  forecast(y: Float64Array, horizon: number): ModelOutput {
    if (y.length < MIN_POINTS) {
      throw new InsufficientHistoryError(`AutoETS needs at least ${MIN_POINTS} points, got ${y.length}`);
    }
    const model = new (loadEts().AutoETS)(1, 'ZZN');
    try {
      model.fit(y);
      return predictBothLevels(model, horizon, 'spec=ZZN');
    } finally {
      model.free();
    }
  },
};
