/**
 * Background threads at Linux's SCHED_IDLE policy. A niced thread is only given a smaller share of
 * the CPU: a request thread that wakes while it runs can still wait for the rest of its slice. A
 * SCHED_IDLE thread runs only when no thread of another policy in the process's cgroup wants that CPU,
 * and one that wakes preempts it at once. Across containers nothing changes: the cgroup's share of the node
 * is its own, whatever its threads' policies.
 *
 * Node has no call for it: util-linux's `chrt`, run as a child process, sets it on the calling
 * thread's own id (a process may move a thread of its own user to SCHED_IDLE without any capability).
 * util-linux is essential in Debian, so the image has it.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Puts the calling thread at SCHED_IDLE. Undefined when done, else why not (not Linux, no chrt, refused). */
export function idleThisThread(): string | undefined {
  if (process.platform !== 'linux') return `SCHED_IDLE is Linux's (this is ${process.platform})`;
  let tid: string;
  try {
    // "<pid>/task/<tid>": this thread's own id, which is not the process's for a worker thread.
    tid = readlinkSync('/proc/thread-self').split('/').pop()!;
  } catch (error) {
    return `this thread's id is unknown (/proc/thread-self: ${(error as Error).message})`;
  }
  return idleThread(tid);
}

/** Puts one thread of this process at SCHED_IDLE: undefined when done, else why not. */
function idleThread(tid: string): string | undefined {
  const r = spawnSync('chrt', ['--idle', '--pid', '0', tid], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return `chrt --idle --pid 0 ${tid}: ${r.error.message}`;
  if (r.status !== 0) return `chrt --idle --pid 0 ${tid} exited ${r.status ?? r.signal}: ${r.stderr.trim()}`;
  return undefined;
}

/** The name Node (from version 24) gives the threads of V8's platform: its background workers. */
export const V8_WORKER_THREAD_NAME = 'V8Worker';

/** The ids of this process's threads named `name` (their `comm`). */
export function threadsNamed(name: string, pid: number | 'self' = 'self'): string[] {
  if (process.platform !== 'linux') return [];
  const named: string[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === name) named.push(tid);
    } catch {
      // the thread ended meanwhile
    }
  }
  return named;
}

/**
 * Puts V8's background worker threads at SCHED_IDLE, so that they, too, run only when the request
 * thread does not want the CPU. They are shared by every isolate of the process: they run the
 * concurrent garbage collection and compilation of the fit threads' isolates as well as the request
 * thread's, and at their default policy that work, unlike the fits themselves, took the CPU from the
 * request thread (waits of 16-32 ms, bench/adapter.ts). The request thread's own collection is not
 * starved by it: V8 finishes on the main thread what its helpers have not done, though where one holds
 * a piece of that work, the request thread waits for it to get a CPU, shared then with the fits and
 * anything else at SCHED_IDLE (a GC trace of the bench's adapter showed a 14 ms scavenge in which the
 * main thread did 1.3 ms and waited for a helper's 11.7; such waits are short now that little survives
 * those collections: adapter/forecast-loop.ts).
 * Node names them from version 24 (the image's); on an older Node they cannot be told from libuv's
 * threads, and are left as they are. Returns the threads moved and, when not all could be, why.
 */
export function idleV8Workers(): { idled: number; why?: string } {
  if (process.platform !== 'linux') return { idled: 0, why: `SCHED_IDLE is Linux's (this is ${process.platform})` };
  const workers = threadsNamed(V8_WORKER_THREAD_NAME);
  if (workers.length === 0) return { idled: 0, why: `no thread is named ${V8_WORKER_THREAD_NAME} (Node names V8's workers from version 24; this is ${process.version})` };
  let idled = 0;
  for (const tid of workers) {
    const why = idleThread(tid);
    if (why) return { idled, why };
    idled++;
  }
  return { idled };
}
