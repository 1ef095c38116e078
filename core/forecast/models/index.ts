/** The model registry: a new model is one file behind `ForecastModel` and one line here. */
import type { ForecastModel, ModelName } from '../types.ts';
import { etsModel } from './ets.ts';
import { holtWintersModel } from './holt-winters.ts';
import { movingMedian } from './moving-median.ts';
import { mstlModel } from './mstl.ts';
import { prophetModel } from './prophet.ts';
import { seasonalNaive } from './seasonal-naive.ts';

export const MODELS: Record<ModelName, ForecastModel> = {
  mstl: mstlModel,
  ets: etsModel,
  prophet: prophetModel,
  'seasonal-naive': seasonalNaive,
  'holt-winters': holtWintersModel,
  'moving-median': movingMedian,
};
