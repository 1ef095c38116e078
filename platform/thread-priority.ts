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
import { readlinkSync } from 'node:fs';

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
  const r = spawnSync('chrt', ['--idle', '--pid', '0', tid], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return `chrt --idle --pid 0 ${tid}: ${r.error.message}`;
  if (r.status !== 0) return `chrt --idle --pid 0 ${tid} exited ${r.status ?? r.signal}: ${r.stderr.trim()}`;
  return undefined;
}

