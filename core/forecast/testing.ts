/** Synthetic series for the forecasting tests: known shape, so errors can be bounded exactly. */
import type { Series } from './types.ts';

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

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
