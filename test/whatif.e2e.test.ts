/**
 * `shadowscale whatif` end to end: a real Prometheus holding five days of real HTTP traffic (NASA,
 * July 1995, per minute) as a workload's load series; whatif reads it back with the adapter's query and
 * step and replays it. Its figures are those of `shadowscale simulate` on a CSV of the same series
 * with the same settings, to the last digit, and its HTML report is written.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runWhatif } from '../cli/whatif.ts';
import { autoCapacity } from '../core/simulator/trace.ts';
import { startPrometheus, type PrometheusServer } from '../platform/runtime/prometheus.ts';
import { loadFixture, NASA_TWO_WEEKS } from './harness/fixtures.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'shadowscale.mjs');
const STEP = 60;
const DAYS = 5;
const dir = mkdtempSync(join(tmpdir(), 'shadowscale-whatif-'));

describe('shadowscale whatif against a real Prometheus', () => {
  // A frozen clock: the window whatif reads is then known exactly.
  const nowMs = Math.floor(Date.now() / 1000) * 1000;
  const end = Math.floor(nowMs / 1000 / STEP) * STEP;
  const full = loadFixture(NASA_TWO_WEEKS);
  // The last five days of the fortnight, ending on the last step whatif asks for.
  const n = DAYS * 1440 + 1;
  const values = full.values.slice(-n);
  const timestamps = values.map((_, i) => end - (n - 1 - i) * STEP);
  const capacity = autoCapacity({ start: 0, stepSeconds: STEP, values: Float64Array.from(values) });
  let prometheus: PrometheusServer;
  let configFile: string;

  beforeAll(async () => {
    prometheus = await startPrometheus({ history: [{ name: 'http_requests_per_second', labels: { workload: 'nasa', namespace: 'web' }, timestamps, values }] });
    configFile = join(dir, 'shadowscale.yaml');
    writeFileSync(
      configFile,
      `prometheus: { url: ${prometheus.url}, timeout: 10s }
workloads:
  - name: nasa
    namespace: web
    load: http_requests_per_second{workload="nasa"}
    capacityPerReplica: ${capacity}
    provisioningLag: 2m
    primary: { name: nasa, minReplicas: 1, maxReplicas: 60 }
    shadow: { name: nasa-shadow, minReplicas: 1, maxReplicas: 5, resourceFraction: 0.5, mirrorPercent: 10 }
  - name: other
    namespace: web
    load: http_requests_per_second{workload="other"}
    capacityPerReplica: 1
    primary: { name: other, minReplicas: 1, maxReplicas: 10 }
`,
    );
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
  });

  it('gives the figures simulate gives on the same series with the same settings, says what they mean, and writes the report', async () => {
    let text = '';
    const out = new Writable({ write: (chunk, _enc, done) => ((text += chunk), done()) });
    const report = join(dir, 'whatif.html');
    const [result] = await runWhatif({ config: configFile, workload: 'web/nasa', since: `${DAYS}d`, targetUtilization: '0.8', json: true, report }, out, nowMs);
    const json = JSON.parse(text);
    expect(json.workloads).toHaveLength(1);
    expect(json.workloads[0]).toMatchObject({ workload: 'web/nasa', from: end - DAYS * 86_400, to: end });

    // The same series as a CSV, through `shadowscale simulate` with the same settings.
    const csv = join(dir, 'nasa.csv');
    writeFileSync(csv, `timestamp,value\n${timestamps.map((t, i) => `${t},${values[i]}`).join('\n')}\n`);
    const sim = spawnSync(process.execPath, [BIN, 'simulate', '--trace', csv, '--policies', 'hpa,shadowscale,oracle', '--capacity', String(capacity), '--max-replicas', '60', '--provisioning-lag', '2m', '--json'], { encoding: 'utf8', timeout: 300_000 });
    expect(sim.stderr).toBe('');
    const simulated = JSON.parse(sim.stdout);
    expect(json.workloads[0].report.policies).toEqual(simulated.policies);
    expect(result.report.steps).toBe(simulated.steps);
    // Something was simulated: every scored tick of the last four days, and shadowscale fitted forecasts.
    expect(simulated.policies[0].scoredTicks).toBe(simulated.steps);
    expect(simulated.steps).toBeGreaterThan(4 * 5760 - 10);

    const [hpa, ss] = json.workloads[0].report.policies;
    const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
    expect(json.workloads[0].summary).toContain(`${pct(ss.unservedFraction)} unserved instead of ${pct(hpa.unservedFraction)} for ${(ss.replicaSeconds / hpa.replicaSeconds).toFixed(2)} × the replica-seconds`);
    expect(readFileSync(report, 'utf8')).toMatch(/^<!doctype html>[\s\S]*web\/nasa[\s\S]*<\/html>\s*$/i);
  }, 600_000);

  it('names a workload whose query has no history, and a workload that is not configured, with exit status 2 for the latter', async () => {
    await expect(runWhatif({ config: configFile, workload: 'web/other', since: '1d', targetUtilization: '0.8', json: true }, new Writable({ write: (_c, _e, d) => d() }), nowMs)).rejects.toThrow(
      'web/other: the load query returned 0 series over the last 1d; there is no history to replay',
    );
    const r = spawnSync(process.execPath, [BIN, 'whatif', '--config', configFile, '--workload', 'web/nope'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`shadowscale whatif: --workload web/nope: no such workload in ${configFile} (expected namespace/name, one of web/nasa, web/other)`);
  });
});
