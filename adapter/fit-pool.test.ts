/**
 * The fit threads run at a lower CPU priority than the thread that answers requests (SCHED_IDLE, and
 * niced), so that fits filling the CPUs do not delay the HPA's and KEDA's reads.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { createFitPool, FIT_NICE_INCREMENT } from './fit-pool.ts';
import { SCHED_IDLE, threadScheduling } from '../test/harness/threads.ts';

/** The scheduling of each thread of this process. */
function threads(): Map<number, { policy: number; nice: number }> {
  const all = new Map<number, { policy: number; nice: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    const scheduling = threadScheduling(tid);
    if (scheduling) all.set(Number(tid), scheduling); // else the thread ended while listed
  }
  return all;
}

describe.runIf(process.platform === 'linux')('the fit pool', () => {
  it(`runs fits on threads at SCHED_IDLE and niced by ${FIT_NICE_INCREMENT}, and leaves the request thread as it was`, async () => {
    const before = threads();
    const own = before.get(process.pid)!;
    const notIdle: string[] = [];
    const pool = createFitPool(1, (why) => notIdle.push(why));
    try {
      const values = Float64Array.from({ length: 96 }, (_, i) => 10 + Math.sin((2 * Math.PI * i) / 24));
      const timestamps = Float64Array.from(values, (_, i) => 1_700_000_000 + 3600 * i);
      const outcome = await pool.run({ timestamps, values, stepSeconds: 3600, horizon: 4, model: 'seasonal-naive', rescore: false, maxHistory: 1000, scoreHorizon: 2, periods: [24] });
      expect(outcome.forecast.point).toHaveLength(4);
      expect(outcome.notIdle).toBeUndefined();
      expect(notIdle).toEqual([]);
      const after = threads();
      const fitThreads = [...after].filter(([tid, s]) => !before.has(tid) && s.policy === SCHED_IDLE && s.nice === Math.min(19, own.nice + FIT_NICE_INCREMENT));
      expect(fitThreads.length).toBeGreaterThanOrEqual(1);
      expect(after.get(process.pid)).toEqual(own);
    } finally {
      await pool.close();
    }
  });

  it('says once why, when a fit thread cannot be put at SCHED_IDLE (no chrt), and still fits, niced', async () => {
    const path = process.env.PATH;
    const notIdle: string[] = [];
    const before = threads();
    const own = before.get(process.pid)!;
    let pool: ReturnType<typeof createFitPool> | undefined;
    try {
      // A worker thread takes its environment from the process when it starts.
      process.env.PATH = '/nonexistent';
      pool = createFitPool(1, (why) => notIdle.push(why));
      const values = Float64Array.from({ length: 96 }, (_, i) => 10 + Math.sin((2 * Math.PI * i) / 24));
      const job = () => ({ timestamps: Float64Array.from(values, (_, i) => 1_700_000_000 + 3600 * i), values: values.slice(), stepSeconds: 3600, horizon: 4, model: 'seasonal-naive' as const, rescore: false, maxHistory: 1000, scoreHorizon: 2, periods: [24] });
      const first = await pool.run(job());
      process.env.PATH = path;
      const second = await pool.run(job());
      expect(first.forecast.point).toHaveLength(4);
      expect(second.notIdle).toMatch(/^chrt --idle --pid 0 \d+: spawnSync chrt ENOENT$/);
      expect(notIdle).toEqual([first.notIdle]);
      expect(notIdle).toHaveLength(1);
      const niced = [...threads()].filter(([tid, s]) => !before.has(tid) && s.policy === 0 && s.nice === Math.min(19, own.nice + FIT_NICE_INCREMENT));
      expect(niced.length).toBeGreaterThanOrEqual(1);
    } finally {
      process.env.PATH = path;
      await pool?.close();
    }
  });
});
