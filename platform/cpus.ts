/**
 * How many CPUs this process may use: the CPUs it can run on, bounded by its cgroup's CPU quota when
 * one is set (a container's `resources.limits.cpu`), which Node's own count does not see.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The cgroup's CPU quota in CPUs (v2 `cpu.max`, else v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`); undefined when unlimited or unknown. */
export function cgroupCpuQuota(root = '/sys/fs/cgroup'): number | undefined {
  const v2 = read(join(root, 'cpu.max'));
  if (v2 !== undefined) {
    const [quota, period] = v2.split(/\s+/);
    return quota === 'max' || !(Number(period) > 0) || !(Number(quota) > 0) ? undefined : Number(quota) / Number(period);
  }
  const quota = Number(read(join(root, 'cpu', 'cpu.cfs_quota_us')) ?? read(join(root, 'cpu.cfs_quota_us')));
  const period = Number(read(join(root, 'cpu', 'cpu.cfs_period_us')) ?? read(join(root, 'cpu.cfs_period_us')));
  return quota > 0 && period > 0 ? quota / period : undefined;
}

export function usableCpus(root?: string): number {
  const cpus = os.availableParallelism();
  const quota = cgroupCpuQuota(root);
  return Math.max(1, quota === undefined ? cpus : Math.min(cpus, Math.ceil(quota)));
}
