/** Synthetic series for the forecasting tests: known shape, so errors can be bounded exactly. */
import { mulberry32 } from '../random.ts';
import type { Series } from './types.ts';

export { mulberry32 };

export function seasonalSeries(options: {
  cycles: number;
  period: number;
  stepSeconds?: number;
  base?: number;
  amplitude?: number;
  noise?: number;
  seed?: number;
}): Series & { truth: (i: number) => number } {
  const { cycles, period, stepSeconds = 300, base = 100, amplitude = 40, noise = 0 } = options;
  const random = mulberry32(options.seed ?? 1);
  const truth = (i: number) => base + amplitude * Math.sin((2 * Math.PI * i) / period);
  const n = Math.round(cycles * period);
  const timestamps: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    timestamps.push(1_700_000_000 + i * stepSeconds);
    values.push(truth(i) + noise * gaussian(random));
  }
  return { timestamps, values, truth };
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
