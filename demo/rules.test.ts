import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { parseDuration } from '../core/duration.ts';
import { scaleExpression, scaleFor, scaleRuleFile } from './rules.ts';

const durationSeconds = (text: string) => parseDuration(text)!;

const t = { speed: 144, minRangeSeconds: 10, minForSeconds: 3 };

describe('rules in compressed time', () => {
  it('divides offsets exactly, and windows and subqueries with a floor', () => {
    expect(durationSeconds('1h30m')).toBe(5400);
    expect(scaleExpression('shadowscale:load:rate5m offset 1d', t)).toBe('shadowscale:load:rate5m offset 600s');
    expect(scaleExpression('avg_over_time(x[1d]) / avg_over_time(y[7d])', t)).toBe('avg_over_time(x[600s]) / avg_over_time(y[4200s])');
    expect(scaleExpression('rate(x[5m])', t)).toBe('rate(x[10s])');
    expect(scaleExpression('changes(x[1d:]) + max_over_time(y[2h:5m])', t)).toBe('changes(x[600s:]) + max_over_time(y[50s:2s])');
    // Label values and strings that merely look like durations are left alone.
    expect(scaleExpression('x{le="5m"} offset -1h', t)).toBe('x{le="5m"} offset -25s');
  });

  it('keeps alerts that wait 5 minutes or more waiting two compressed windows per 5 minutes', () => {
    expect(scaleFor(durationSeconds('2m'), t)).toBe(3);
    expect(scaleFor(durationSeconds('5m'), t)).toBe(20);
    expect(scaleFor(durationSeconds('10m'), t)).toBe(40);
    expect(scaleFor(durationSeconds('1d'), { ...t, speed: 10 })).toBe(8640);
  });

  it('keeps every rule file of the project valid for promtool, with only durations changed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shadowscale-scaled-rules-'));
    for (const f of ['inputs/generic.rules.yml', 'inputs/kubernetes.rules.yml', 'kpis.rules.yml', 'forecast.rules.yml', 'alerts.rules.yml']) {
      const text = readFileSync(join(import.meta.dirname, '..', 'recording-rules', f), 'utf8');
      const scaled = scaleRuleFile(text, t);
      const out = join(dir, f.replace('/', '-'));
      writeFileSync(out, scaled);
      execFileSync('promtool', ['check', 'rules', out], { stdio: 'pipe' });
      const before = parse(text).groups.flatMap((g: any) => g.rules);
      const after = parse(scaled).groups.flatMap((g: any) => g.rules);
      expect(after.map((r: any) => r.record ?? r.alert)).toEqual(before.map((r: any) => r.record ?? r.alert));
      for (const r of after) if (r.for) expect(durationSeconds(r.for)).toBeGreaterThanOrEqual(3);
    }
  });
});
