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

/**
 * The Node.js binaries to run it with: this one, and the one in $SHADOWSCALE_EXTRA_NODE (the image's
 * version, which CI installs: `.ci/run`).
 */
const NODES = [process.execPath, ...(process.env.SHADOWSCALE_EXTRA_NODE ? [process.env.SHADOWSCALE_EXTRA_NODE] : [])];

describe.runIf(process.platform === 'linux')("V8's background threads at SCHED_IDLE", () => {
  it.each(NODES.map((node) => [node]))('puts the threads named V8Worker there and no other, or says why not (node %s)', (node) => {
    const module = siblingModule(import.meta.url, 'thread-priority');
    const harness = new URL('../test/harness/threads.ts', import.meta.url).href;
    const code = `
      import { readdirSync, readFileSync } from 'node:fs';
      const { idleV8Workers } = await import(${JSON.stringify(module.url.href)});
      const { threadScheduling } = await import(${JSON.stringify(harness)});
      const result = idleV8Workers();
      const threads = readdirSync('/proc/self/task').map((tid) => ({ name: readFileSync('/proc/self/task/' + tid + '/comm', 'utf8').trim(), policy: threadScheduling(tid).policy }));
      console.log(JSON.stringify({ result, threads, version: process.version }));`;
    const r = spawnSync(node, [...module.execArgv, '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const { result, threads, version } = JSON.parse(r.stdout) as { result: { idled: number; why?: string }; threads: Array<{ name: string; policy: number }>; version: string };
    const named = threads.filter((t) => t.name === 'V8Worker');
    if (named.length > 0) {
      expect(result).toEqual({ idled: named.length });
      expect(named.every((t) => t.policy === 5)).toBe(true);
    } else {
      // Node 20 and 22 do not name V8's workers: nothing is moved, and the answer says so.
      expect(result).toEqual({ idled: 0, why: `no thread is named V8Worker (Node names V8's workers from version 24; this is ${version})` });
    }
    expect(threads.filter((t) => t.name !== 'V8Worker').map((t) => t.policy), 'the main thread and the others').toEqual(threads.filter((t) => t.name !== 'V8Worker').map(() => 0));
    if (Number(version.slice(1).split('.')[0]) >= 24) expect(named.length, 'Node 24 names them').toBeGreaterThan(0);
  });
});
