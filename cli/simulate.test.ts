import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../test/harness/fixtures.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'shadowscale.mjs');
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'simulate', ...args], { encoding: 'utf8', timeout: 120_000 });
const dir = mkdtempSync(join(tmpdir(), 'shadowscale-sim-'));

/** Two days at 5-minute steps with a daily cycle and a surge on the second afternoon. */
function syntheticTrace(): string {
  const rows = ['timestamp,value'];
  for (let i = 0; i < 2 * 288; i++) {
    const daily = 100 + 60 * Math.sin((2 * Math.PI * i) / 288);
    rows.push(`${1_700_000_000 + i * 300},${(i >= 288 + 170 && i < 288 + 180 ? 2.5 : 1) * daily}`);
  }
  const file = join(dir, 'synthetic.csv');
  writeFileSync(file, `${rows.join('\n')}\n`);
  return file;
}

describe('shadowscale simulate', () => {
  it('prints the documented JSON for a real trace', () => {
    const trace = fixturePath('ec2_cpu_utilization_5f5533.csv');
    const r = run('--trace', trace, '--policies', 'hpa,oracle', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['trace', 'steps', 'capacityPerReplica', 'provisioningLagSeconds', 'targetUtilization', 'policies']);
    expect(out).toMatchObject({ trace, provisioningLagSeconds: 120, targetUtilization: 0.8 });
    expect(out.policies.map((p: { policy: string }) => p.policy)).toEqual(['hpa', 'oracle']);
    expect(Object.keys(out.policies[0])).toEqual(['policy', 'unservedFraction', 'violationSeconds', 'replicaSeconds', 'shadowReplicaSeconds', 'peakReplicas', 'scaleActions', 'hpaUnservedAtEqualCost', 'hpaTargetAtEqualCost', 'equalCostExtrapolated', 'hpaStrictUnservedAtEqualCost', 'hpaUnservedAtServingCost', 'poolReturns', 'spillSeconds', 'scoredTicks', 'skippedTicks']);
    const [hpa, oracle] = out.policies;
    // At its own cost, the bisection finds hpa itself: its own target and unserved fraction.
    expect(hpa.equalCostExtrapolated).toBe(false);
    expect(hpa.hpaTargetAtEqualCost).toBeCloseTo(0.8, 2);
    expect(hpa.hpaUnservedAtEqualCost).toBeCloseTo(hpa.unservedFraction, 4);
    expect(oracle.unservedFraction).toBe(0);
    expect(oracle.replicaSeconds).toBeLessThan(hpa.replicaSeconds);
    // auto:5 sizes a replica for about 5 at the p95 load: four times auto's 20-replica capacity.
    const coarse = JSON.parse(run('--trace', trace, '--policies', 'hpa', '--capacity', 'auto:5', '--json').stdout);
    expect(coarse.capacityPerReplica).toBeCloseTo(4 * out.capacityPerReplica, 9);
  });

  it('runs every policy on a short trace and writes a self-contained report', () => {
    const report = join(dir, 'report.html');
    const r = run('--trace', syntheticTrace(), '--provisioning-lag', '5m', '--report', report);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/hpa .*\n.*\n.*holt-winters.*\n.*\n.*shadowscale.*\n.*\n.*oracle/);
    const html = readFileSync(report, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('vegaEmbed(');
    // Offline: no script or stylesheet fetched from anywhere.
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
  });

  it.each([
    ['an unknown policy', ['--trace', fixturePath('ec2_cpu_utilization_5f5533.csv'), '--policies', 'hpa,magic'], '--policies: unknown policy "magic"'],
    ['a missing trace', ['--trace', '/nonexistent.csv'], '--trace /nonexistent.csv: no such file'],
    ['a bad lag', ['--trace', fixturePath('ec2_cpu_utilization_5f5533.csv'), '--provisioning-lag', 'soon'], '--provisioning-lag "soon" is not a duration'],
    ['a bad utilisation', ['--trace', fixturePath('ec2_cpu_utilization_5f5533.csv'), '--target-utilization', '1.5'], '--target-utilization must be in (0, 1], got "1.5"'],
    ['a floor above the ceiling', ['--trace', fixturePath('ec2_cpu_utilization_5f5533.csv'), '--min-replicas', '9', '--max-replicas', '8'], '--min-replicas 9 is above --max-replicas 8'],
    ['a bad capacity', ['--trace', fixturePath('ec2_cpu_utilization_5f5533.csv'), '--capacity', 'auto:0'], '--capacity must be a positive number, auto or auto:R (R replicas at the p95 load), got "auto:0"'],
    ['a trace too short for its warm-up', ['--trace', fixturePath('ec2_cpu_utilization_5f5533.csv'), '--warmup', '30d'], 'less than an hour is left to score'],
  ])('fails on %s with one line naming it, exit status 2', (_what, args, message) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });
});
