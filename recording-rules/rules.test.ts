/**
 * Runs promtool (Debian `prometheus` package) over the rule files: `check rules` on each, and the unit
 * tests in tests/*.test.yml, which pin every recording rule to exact values and every alert firing
 * and not firing on input written the way each mapping produces it.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const DIR = dirname(fileURLToPath(import.meta.url));

export function ruleFiles(): string[] {
  const top = readdirSync(DIR).filter((f) => f.endsWith('.rules.yml')).map((f) => join(DIR, f));
  const inputs = readdirSync(join(DIR, 'inputs')).filter((f) => f.endsWith('.rules.yml')).map((f) => join(DIR, 'inputs', f));
  return [...inputs, ...top];
}

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
