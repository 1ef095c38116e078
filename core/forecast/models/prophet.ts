/**
 * Prophet (piecewise-linear trend + Fourier seasonalities), fitted with Stan compiled to WASM. Slower
 * than the others (seconds on a week of minutes), so `auto` only tries it when asked to.
 */
import { prophet as loadProphet, prophetOptimizerLoaded } from '../augurs.ts';
import { Z } from '../intervals.ts';
import { InsufficientHistoryError, type Band, type FitContext, type ForecastModel, type Level, type ModelOutput } from '../types.ts';

const MIN_POINTS = 10;
/** Draws for the uncertainty intervals; Prophet's default of 1,000 costs more than the fit itself. */
const UNCERTAINTY_SAMPLES = 300;

export const prophetModel: ForecastModel = {
  name: 'prophet',
  fallbacks: ['ets', 'naive'],
  forecast(y: Float64Array, horizon: number, ctx: FitContext): ModelOutput {
    if (y.length < MIN_POINTS) {
      throw new InsufficientHistoryError(`Prophet needs at least ${MIN_POINTS} points, got ${y.length}`);
    }
    const optimizer = prophetOptimizerLoaded();
    if (!optimizer) throw new Error('Prophet optimiser not loaded: call loadForecastModels() at start-up');
    const ds = Array.from(y, (_, i) => ctx.startSeconds + i * ctx.stepSeconds);
    const { Prophet } = loadProphet();
    const model = new Prophet({ optimizer, intervalWidth: 0.95, uncertaintySamples: UNCERTAINTY_SAMPLES });
    try {
      model.fit({ ds, y });
      // Prophet's future frame steps by the spacing it inferred, which is our grid step.
      const predictions = model.predict(model.makeFutureDataframe(horizon, { includeHistory: false }));
      const point = Array.from(predictions.yhat.point);
      const at95 = predictions.yhat.intervals;
      if (!at95) throw new Error('Prophet returned no intervals');
      // Prophet draws one interval width per fit; the 80 % band is the 95 % one scaled by the ratio of
      // normal quantiles, side by side so an asymmetric band stays asymmetric.
      const shrink = Z[0.8] / Z[0.95];
      const at80: Band = {
        lower: point.map((p, h) => p - (p - at95.lower[h]) * shrink),
        upper: point.map((p, h) => p + (at95.upper[h] - p) * shrink),
      };
      const intervals = { 0.8: at80, 0.95: { lower: Array.from(at95.lower), upper: Array.from(at95.upper) } } as Record<Level, Band>;
      return { point, intervals, detail: `samples=${UNCERTAINTY_SAMPLES}` };
    } finally {
      model.free();
    }
  },
};
