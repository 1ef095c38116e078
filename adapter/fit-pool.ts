/**
 * A pool of worker threads for fits (piscina). Workers load the compiled module in the image, and the
 * TypeScript source through tsx in a checkout (platform/module-file.ts).
 */
import { Piscina } from 'piscina';

import { siblingModule } from '../platform/module-file.ts';
import type { FitJob, FitOutcome } from './fit-worker.ts';

export interface FitPool {
  run(job: FitJob): Promise<FitOutcome>;
  close(): Promise<void>;
}

/** How much lower the fit threads' CPU priority is than the request path's (nice increment). */
export const FIT_NICE_INCREMENT = 10;

/**
 * `onNotIdle` hears once, the first time a fit's thread could not be put at SCHED_IDLE, why: the fits
 * then run niced only.
 */
export function createFitPool(threads: number, onNotIdle?: (why: string) => void): FitPool {
  const worker = siblingModule(import.meta.url, 'fit-worker');
  const pool = new Piscina({
    filename: worker.url.href,
    minThreads: 1,
    maxThreads: threads,
    execArgv: worker.execArgv,
    // A fit that hangs must not hold a worker forever.
    idleTimeout: 60_000,
    // Fits run at a lower CPU priority than the thread that answers the HPA and KEDA, so that where
    // they fill the CPUs (a CPU limit, a cold start) the requests still go first: on Linux each fit
    // thread puts itself at SCHED_IDLE (adapter/fit-worker.ts; it runs when the request thread does
    // not, and yields the moment a request arrives) and is niced +10 as well, which is all it gets
    // where SCHED_IDLE cannot be set. Without either, on one CPU, 0.9 core of fits made external
    // metrics p99 0.5 s.
    niceIncrement: FIT_NICE_INCREMENT,
  });
  let told = false;
  return {
    run: async (job) => {
      const outcome: FitOutcome = await pool.run(job, { transferList: [job.timestamps.buffer as ArrayBuffer, job.values.buffer as ArrayBuffer] });
      if (outcome.notIdle && !told) {
        told = true;
        onNotIdle?.(outcome.notIdle);
      }
      return outcome;
    },
    close: () => pool.destroy(),
  };
}
