/**
 * A pool of worker threads for fits (piscina). Workers load the TypeScript sources through tsx, given
 * by absolute path so they resolve it from this package whatever the working directory.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import type { FitJob, FitOutcome } from './fit-worker.ts';

const require = createRequire(import.meta.url);

export interface FitPool {
  run(job: FitJob): Promise<FitOutcome>;
  close(): Promise<void>;
}

export function createFitPool(threads: number): FitPool {
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  const pool = new Piscina({
    filename: new URL('./fit-worker.ts', import.meta.url).href,
    minThreads: 1,
    maxThreads: threads,
    execArgv: ['--import', tsx],
    // A fit that hangs must not hold a worker forever.
    idleTimeout: 60_000,
  });
  return {
    run: (job) => pool.run(job, { transferList: [job.timestamps.buffer as ArrayBuffer, job.values.buffer as ArrayBuffer] }),
    close: () => pool.destroy(),
  };
}
