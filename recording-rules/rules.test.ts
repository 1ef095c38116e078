/**
 * Runs promtool (Debian `prometheus` package) over the rule files: `check rules` on each, and the unit
 * tests in tests/*.test.yml, which pin every recording rule to exact values and every alert firing
 * and not firing on input written the way each mapping produces it.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ruleFiles } from './files.ts';
import { OUTPUT, prometheusRules } from './generate.ts';

const exec = promisify(execFile);
const DIR = dirname(fileURLToPath(import.meta.url));


async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await exec('promtool', args, { cwd: DIR, maxBuffer: 10 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

describe('promtool check rules', () => {
  it.each(ruleFiles().map((f) => [f.slice(DIR.length + 1)]))('%s is valid', async (file) => {
    const { code, output } = await promtool('check', 'rules', file);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
    expect(code, output).toBe(0);
  });
});

describe('promtool test rules', () => {
  const tests = readdirSync(join(DIR, 'tests')).filter((f) => f.endsWith('.test.yml'));
  it.each(tests.map((f) => [f]))('tests/%s passes', async (file) => {
    const { code, output } = await promtool('test', 'rules', join('tests', file));
    expect(output, output).toMatch(/SUCCESS/);
    expect(code, output).toBe(0);
  });

  it('a failing expectation makes promtool fail (the check above can fail)', async () => {
    const { code, output } = await promtool('test', 'rules', join('tests', 'negative', 'wrong-value.test.yml'));
    expect(code).not.toBe(0);
    expect(output).toMatch(/FAILED/);
  });
});

describe('PrometheusRule objects', () => {
  it('prometheusrules.yaml is what generate.ts makes of the rule files (run npm run rules:generate)', () => {
    expect(readFileSync(OUTPUT, 'utf8')).toBe(prometheusRules());
  });

  it('hold every group of every rule file, unchanged, as .spec', () => {
    const objects = readFileSync(OUTPUT, 'utf8').split(/^---$/m).slice(1).map((d) => parse(d));
    expect(objects.map((o) => o.kind)).toEqual(ruleFiles().map(() => 'PrometheusRule'));
    ruleFiles().forEach((file, i) => expect(objects[i].spec).toEqual(parse(readFileSync(file, 'utf8'))));
  });

  it('names every series shadowscale:<what>:<how> and labels every alert as the receiver expects', () => {
    for (const file of ruleFiles()) {
      for (const group of parse(readFileSync(file, 'utf8')).groups) {
        for (const rule of group.rules) {
          if (rule.record) expect(rule.record).toMatch(/^shadowscale:[a-z0-9_]+:[a-z0-9_]+$/);
          if (rule.alert) {
            expect(rule.alert).toMatch(/^Shadowscale[A-Za-z]+$/);
            expect(['prescale', 'promote', 'demote', 'restart', 'none']).toContain(rule.labels.shadowscale_action);
            expect(['info', 'warning', 'critical']).toContain(rule.labels.severity);
            expect(Object.keys(rule.annotations).sort()).toEqual(['description', 'runbook_url', 'summary']);
          }
        }
      }
    }
  });
});

describe('test coverage of the rules', () => {
  const tests = readdirSync(join(DIR, 'tests'))
    .filter((f) => f.endsWith('.test.yml'))
    .flatMap((f) => parse(readFileSync(join(DIR, 'tests', f), 'utf8')).tests as Array<{
      promql_expr_test?: Array<{ expr: string; exp_samples: unknown[] }>;
      alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }>;
    }>);
  const rules = ruleFiles().flatMap((f) => parse(readFileSync(f, 'utf8')).groups.flatMap((g: { rules: Array<{ record?: string; alert?: string }> }) => g.rules));

  it('pins every recorded series to a value in some promtool test', () => {
    const pinned = new Set(tests.flatMap((t) => (t.promql_expr_test ?? []).filter((e) => e.exp_samples.length > 0).map((e) => e.expr.replace(/\{.*$/, ''))));
    const records = [...new Set(rules.filter((r) => r.record).map((r) => r.record!))];
    expect(records.filter((r) => !pinned.has(r))).toEqual([]);
  });

  it('tests every alert both firing and not firing', () => {
    const alerts = [...new Set(rules.filter((r) => r.alert).map((r) => r.alert!))];
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      expect(cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0), `${alert} firing`).toBe(true);
      expect(cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0), `${alert} not firing`).toBe(true);
    }
  });
});
