import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { cgroupCpuQuota, usableCpus } from './cpus.ts';

const dirs: string[] = [];
const cgroup = (files: Record<string, string>) => {
  const dir = mkdtempSync(join(tmpdir(), 'cgroup-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), `${text}\n`);
  }
  return dir;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('usable CPUs', () => {
  it('reads a cgroup v2 quota, rounding up, and never exceeds the CPUs there are', () => {
    expect(cgroupCpuQuota(cgroup({ 'cpu.max': '150000 100000' }))).toBe(1.5);
    expect(usableCpus(cgroup({ 'cpu.max': '150000 100000' }))).toBe(Math.min(os.availableParallelism(), 2));
    expect(usableCpus(cgroup({ 'cpu.max': '50000 100000' }))).toBe(1);
    expect(usableCpus(cgroup({ 'cpu.max': '6400000 100000' }))).toBe(os.availableParallelism());
  });

  it('reads a cgroup v1 quota; no quota (max, -1, or no file) means every CPU', () => {
    expect(cgroupCpuQuota(cgroup({ 'cpu/cpu.cfs_quota_us': '200000', 'cpu/cpu.cfs_period_us': '100000' }))).toBe(2);
    expect(cgroupCpuQuota(cgroup({ 'cpu.max': 'max 100000' }))).toBeUndefined();
    expect(cgroupCpuQuota(cgroup({ 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' }))).toBeUndefined();
    expect(usableCpus(cgroup({}))).toBe(os.availableParallelism());
  });
});
