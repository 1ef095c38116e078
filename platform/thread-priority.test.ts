/**
 * SCHED_IDLE for a background thread, set by the thread on itself: run in a child process of this
 * test, never on the test's own thread (which would then yield to everything else for the rest of the
 * run). That the fit threads get it and the request thread does not: adapter/fit-pool.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import { siblingModule } from './module-file.ts';

/** Runs idleThisThread() on the main thread of a child process with `env`: its answer and that thread's policy after it. */
function inChild(env: NodeJS.ProcessEnv): { why: string | null; policy: number } {
  const module = siblingModule(import.meta.url, 'thread-priority');
  const harness = new URL('../test/harness/threads.ts', import.meta.url).href;
  const code = `
    const { idleThisThread } = await import(${JSON.stringify(module.url.href)});
    const { threadScheduling } = await import(${JSON.stringify(harness)});
    const why = idleThisThread() ?? null;
    console.log(JSON.stringify({ why, policy: threadScheduling(process.pid).policy }));`;
  const r = spawnSync(process.execPath, [...module.execArgv, '--input-type=module', '-e', code], { env, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`child exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe.runIf(process.platform === 'linux')('a background thread at SCHED_IDLE', () => {
  it('puts the calling thread at SCHED_IDLE (policy 5)', () => {
    expect(inChild(process.env)).toEqual({ why: null, policy: 5 });
  });

  it('says why when chrt cannot be run, and leaves the thread as it was', () => {
    const { why, policy } = inChild({ ...process.env, PATH: '/nonexistent' });
    expect(why).toMatch(/^chrt --idle --pid 0 \d+: spawnSync chrt ENOENT$/);
    expect(policy).toBe(0);
  });
});
