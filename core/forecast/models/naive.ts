/**
 * The last rung of every ladder: tomorrow looks like now. It needs one observation, so the engine can
 * always answer; with a single point it has no residuals and its band has zero width.
 */
import { residualBands } from '../intervals.ts';
import type { ModelOutput } from '../types.ts';

export function naiveForecast(y: Float64Array, horizon: number): ModelOutput {
  const last = y[y.length - 1];
  const point = new Array<number>(horizon).fill(last);
  const residuals = new Float64Array(Math.max(0, y.length - 1));
  for (let i = 1; i < y.length; i++) residuals[i - 1] = y[i] - y[i - 1];
  // A random walk's h-step error grows with sqrt(h).
  const spread = point.map((_, h) => Math.sqrt(h + 1));
  return { point, intervals: residualBands(point, residuals, spread), detail: `last=${last}` };
}
