/**
 * What Linux reports about a thread or a process in /proc/.../stat (stat(5)): for the tests of thread
 * priorities and the benches' CPU figures. One parser, so the field numbers are written once.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** Clock ticks a second, the unit of utime and stime. */
export const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

export interface ProcStat {
  /** utime + stime (fields 14 and 15), in seconds. */
  cpuSeconds: number;
  /** Field 19. */
  nice: number;
  /** Field 41: 0 SCHED_OTHER, 5 SCHED_IDLE. */
  policy: number;
}

/** SCHED_IDLE's number in the policy field. */
export const SCHED_IDLE = 5;

/**
 * Reads a stat file: `/proc/<pid>/stat` (a process, all its threads) or `/proc/<pid>/task/<tid>/stat`
 * (one thread). Undefined when it is gone (the thread or process ended).
 */
export function procStat(path: string): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count from after it, where
  // fields[0] is field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, nice: Number(fields[16]), policy: Number(fields[38]) };
}

/** The policy and nice of a thread of this process. */
export function threadScheduling(tid: number | string): { policy: number; nice: number } | undefined {
  const stat = procStat(`/proc/self/task/${tid}/stat`);
  return stat && { policy: stat.policy, nice: stat.nice };
}
