/**
 * The image, without a container daemon: its stages are replayed from the Dockerfile's own lines (so
 * the test and the Dockerfile cannot drift). The build stage's tree is assembled from its COPY lines
 * and built there (`RUN node scripts/build.mjs /app/dist`); the final tree from the final stage's COPY
 * lines and the build stage's dist/, with the installed node_modules. It must start from compiled
 * JavaScript alone (no sources, no tsx): `--version`, each subcommand's `--help`, and `adapter` and
 * `receiver` refusing a missing configuration by name, which means their modules loaded. A directory
 * the build or the CLI needs left out of the COPY lines fails here.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

interface Stage {
  name: string;
  copies: Array<{ from: string; to: string }>;
  fromStage: Array<{ stage: string; from: string; to: string }>;
  runs: string[];
}

/** Each stage's name, its `COPY <src...> <dest>` lines, its `COPY --from=<stage>` lines and its RUN lines. */
export function stages(dockerfile: string): Stage[] {
  return dockerfile
    .split(/^FROM /m)
    .slice(1)
    .map((text) => ({
      name: /^\S+(?: AS (\S+))?/i.exec(text)?.[1] ?? '',
      copies: [...text.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => {
        const parts = m[1].trim().split(/\s+/);
        const to = parts.pop()!;
        return parts.map((from) => ({ from, to }));
      }),
      fromStage: [...text.matchAll(/^COPY --from=(\S+) (\S+) (\S+)$/gm)].map((m) => ({ stage: m[1], from: m[2], to: m[3] })),
      runs: [...text.matchAll(/^RUN (.+)$/gm)].map((m) => m[1]),
    }));
}

/** Copies a stage's COPY lines from the repository into `tree` (tests left out, as .dockerignore does). */
function assemble(tree: string, copies: Stage['copies']): void {
  for (const { from, to } of copies) {
    // `COPY file ./` copies into the directory; `COPY dir ./dir` copies its contents there.
    const target = to.endsWith('/') || to === '.' ? join(tree, to, basename(from)) : join(tree, to.replace(/^\.\//, '').replace(/^\/app\//, ''));
    mkdirSync(dirname(target), { recursive: true });
    cpSync(join(ROOT, from), target, { recursive: true, filter: (f) => !f.endsWith('.test.ts') });
  }
  // The dependencies as installed here (the stages run npm ci into the same place).
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir');
}

const work = mkdtempSync(join(tmpdir(), 'shadowscale-image-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const tree = join(work, 'app');

function run(...args: string[]) {
  return spawnSync(process.execPath, [join(tree, 'bin', 'shadowscale.mjs'), ...args], { cwd: tree, encoding: 'utf8', timeout: 60_000 });
}

describe("the image's file tree", () => {
  it('builds in the build stage and starts every service from compiled JavaScript alone', () => {
    const all = stages(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    const build = all.find((s) => s.name === 'build')!;
    const final = all[all.length - 1];
    expect(build.runs).toContain('node scripts/build.mjs /app/dist');
    const buildTree = join(work, 'build');
    mkdirSync(buildTree);
    assemble(buildTree, build.copies);
    const built = spawnSync(process.execPath, [join(buildTree, 'scripts', 'build.mjs'), join(buildTree, 'dist')], { cwd: buildTree, encoding: 'utf8', timeout: 120_000 });
    expect(built.status, built.stdout + built.stderr).toBe(0);

    mkdirSync(tree);
    assemble(tree, final.copies);
    expect(final.copies.map((c) => c.from).sort()).toEqual(['bin', 'package.json']);
    for (const c of final.fromStage.filter((c) => c.stage === 'build')) cpSync(join(buildTree, c.from.replace(/^\/app\//, '')), join(tree, c.to.replace(/^\.\//, '')), { recursive: true });
    // No sources in the image: the executable must not fall back to them.
    expect(existsSync(join(tree, 'cli', 'main.ts'))).toBe(false);
    expect(existsSync(join(tree, 'dist', 'cli', 'main.js'))).toBe(true);
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
