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

export function createFitPool(threads: number): FitPool {
  const worker = siblingModule(import.meta.url, 'fit-worker');
  const pool = new Piscina({
    filename: worker.url.href,
    minThreads: 1,
    maxThreads: threads,
    execArgv: worker.execArgv,
    // A fit that hangs must not hold a worker forever.
    idleTimeout: 60_000,
    // Fits run at a lower CPU priority than the thread that answers the HPA and KEDA (nice +10 on
    // Linux, per thread): where the fits fill the CPUs (a CPU limit, a cold start), the requests still
    // go first. Without it, on one CPU, 0.9 core of fits made external metrics p99 0.5 s.
    niceIncrement: FIT_NICE_INCREMENT,
  });
  return {
    run: (job) => pool.run(job, { transferList: [job.timestamps.buffer as ArrayBuffer, job.values.buffer as ArrayBuffer] }),
    close: () => pool.destroy(),
  };
}
