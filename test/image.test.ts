/**
 * The image's file tree, without a container daemon: the files the Dockerfile COPYs (read from its
 * COPY lines, so the test and the Dockerfile cannot drift), assembled in a temporary directory with
 * the installed node_modules, must start: `--version`, and each service's `--help` (which loads its
 * command and nothing else) and `adapter`/`receiver` refusing a missing configuration by name, which
 * means their modules loaded. A directory the CLI needs left out of the COPY lines fails here.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/** The sources of the final stage's `COPY <src> <dest>` lines (not `--from=` copies). */
export function copiedPaths(dockerfile: string): Array<{ from: string; to: string }> {
  const stages = dockerfile.split(/^FROM /m);
  const final = stages[stages.length - 1];
  return [...final.matchAll(/^COPY (?!--from)(\S+) (\S+)$/gm)].map((m) => ({ from: m[1], to: m[2] }));
}

const tree = mkdtempSync(join(tmpdir(), 'shadowscale-image-'));
afterAll(() => rmSync(tree, { recursive: true, force: true }));

function run(...args: string[]) {
  return spawnSync(process.execPath, [join(tree, 'bin', 'shadowscale.mjs'), ...args], { cwd: tree, encoding: 'utf8', timeout: 60_000 });
}

describe("the image's file tree", () => {
  it('starts every service from exactly what the Dockerfile copies', () => {
    const copies = copiedPaths(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    expect(copies.map((c) => c.from)).toEqual(expect.arrayContaining(['bin', 'cli', 'core', 'adapter', 'alertmanager']));
    for (const { from, to } of copies) {
      // `COPY file ./` copies into the directory; `COPY dir ./dir` copies its contents there.
      const target = to.endsWith('/') || to === '.' ? join(tree, to, basename(from)) : join(tree, to.replace(/^\.\//, ''));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(join(ROOT, from), target, { recursive: true, filter: (f) => !f.endsWith('.test.ts') });
    }
    // The dependencies as installed here (the image runs npm install --omit=dev into the same place).
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir');
    const version = run('--version');
    expect(version.stderr).toBe('');
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    for (const command of ['adapter', 'receiver', 'check', 'backtest', 'simulate', 'dashboards', 'demo']) {
      const help = run(command, '--help');
      expect(help.status, `${command} --help: ${help.stderr}`).toBe(0);
    }
    for (const command of ['adapter', 'receiver']) {
      const missing = run(command, '--config', '/nonexistent.yaml');
      expect(missing.stderr.trim(), command).toBe(`shadowscale ${command}: --config /nonexistent.yaml: no such file`);
      expect(missing.status).toBe(2);
    }
  }, 120_000);
});
