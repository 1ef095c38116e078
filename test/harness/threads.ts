/** The scheduling of this process's threads, as Linux reports it: for the tests of thread priorities. */
import { readFileSync } from 'node:fs';

/** The policy (field 41 of /proc/self/task/<tid>/stat, 5 is SCHED_IDLE) and nice (field 19) of a thread of this process. */
export function threadScheduling(tid: number | string): { policy: number; nice: number } | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { policy: Number(fields[38]), nice: Number(fields[16]) };
  } catch {
    return undefined;
  }
}
