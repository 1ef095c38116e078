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

export function createFitPool(threads: number): FitPool {
  const worker = siblingModule(import.meta.url, 'fit-worker');
  const pool = new Piscina({
    filename: worker.url.href,
    minThreads: 1,
    maxThreads: threads,
    execArgv: worker.execArgv,
    // A fit that hangs must not hold a worker forever.
    idleTimeout: 60_000,
  });
  return {
    run: (job) => pool.run(job, { transferList: [job.timestamps.buffer as ArrayBuffer, job.values.buffer as ArrayBuffer] }),
    close: () => pool.destroy(),
  };
}
