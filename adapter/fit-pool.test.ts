/**
 * The fit threads run at a lower CPU priority than the thread that answers requests, so that fits
 * filling the CPUs do not delay the HPA's and KEDA's reads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { createFitPool, FIT_NICE_INCREMENT } from './fit-pool.ts';

/** The nice value of each thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): Map<number, number> {
  const nices = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      nices.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread ended while listed
    }
  }
  return nices;
}

describe.runIf(process.platform === 'linux')('the fit pool', () => {
  it(`runs fits on threads niced by ${FIT_NICE_INCREMENT}, and leaves the request thread as it was`, async () => {
    const before = threadNices();
    const own = before.get(process.pid)!;
    const pool = createFitPool(1);
    try {
      const values = Float64Array.from({ length: 96 }, (_, i) => 10 + Math.sin((2 * Math.PI * i) / 24));
      const timestamps = Float64Array.from(values, (_, i) => 1_700_000_000 + 3600 * i);
      const outcome = await pool.run({ timestamps, values, stepSeconds: 3600, horizon: 4, model: 'seasonal-naive', rescore: false, maxHistory: 1000, scoreHorizon: 2, periods: [24] });
      expect(outcome.forecast.point).toHaveLength(4);
      const after = threadNices();
      const niced = [...after].filter(([tid, nice]) => !before.has(tid) && nice === Math.min(19, own + FIT_NICE_INCREMENT));
      expect(niced.length).toBeGreaterThanOrEqual(1);
      expect(after.get(process.pid)).toBe(own);
    } finally {
      await pool.close();
    }
  });
});
