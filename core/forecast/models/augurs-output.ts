/** Converts augurs' one-level forecasts into our two-level output. */
import type { Forecast as AugursForecast } from '@bsull/augurs/mstl';
import type { Band, Level, ModelOutput } from '../types.ts';

export interface LevelPredictor {
  predict(horizon: number, level?: number | null): AugursForecast;
}

export function predictBothLevels(model: LevelPredictor, horizon: number, detail: string): ModelOutput {
  const at95 = model.predict(horizon, 0.95);
  const at80 = model.predict(horizon, 0.8);
  return {
    point: Array.from(at95.point),
    intervals: { 0.8: band(at80), 0.95: band(at95) } as Record<Level, Band>,
    detail,
  };
}

function band(f: AugursForecast): Band {
  if (!f.intervals) throw new Error('augurs returned a forecast without intervals');
  return { lower: Array.from(f.intervals.lower), upper: Array.from(f.intervals.upper) };
}
