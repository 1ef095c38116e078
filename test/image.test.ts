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
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, describe, expect, it } from 'vitest';

import { freePort } from '../platform/runtime/ports.ts';
import { startProcess, waitForHttp } from '../platform/runtime/process.ts';
import { startPrometheus } from '../platform/runtime/prometheus.ts';
import { threadsNamed, V8_WORKER_THREAD_NAME } from '../platform/thread-priority.ts';
import { procStat, SCHED_IDLE } from './harness/threads.ts';

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

/**
 * The Node.js binaries the tree is started with: this one, and the one in $SHADOWSCALE_EXTRA_NODE
 * (CI installs the current LTS there, as the image runs it: `.ci/run`).
 */
const NODES = [process.execPath, ...(process.env.SHADOWSCALE_EXTRA_NODE ? [process.env.SHADOWSCALE_EXTRA_NODE] : [])];

function run(...args: string[]) {
  return runWith(process.execPath, ...args);
}

function runWith(node: string, ...args: string[]) {
  return spawnSync(node, [join(tree, 'bin', 'shadowscale.mjs'), ...args], { cwd: tree, encoding: 'utf8', timeout: 60_000 });
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
    for (const command of ['adapter', 'receiver', 'check', 'backtest', 'simulate', 'dashboards', 'rbac', 'demo']) {
      const help = run(command, '--help');
      expect(help.status, `${command} --help: ${help.stderr}`).toBe(0);
    }
    for (const command of ['adapter', 'receiver']) {
      const missing = run(command, '--config', '/nonexistent.yaml');
      expect(missing.stderr.trim(), command).toBe(`shadowscale ${command}: --config /nonexistent.yaml: no such file`);
      expect(missing.status).toBe(2);
    }
  }, 120_000);

  it.each(NODES.map((node) => [node]))('runs the adapter to ready against a real Prometheus, and the receiver, from that tree alone (node %s)', async (node) => {
    expect(existsSync(join(tree, 'dist', 'cli', 'main.js')), 'the tree of the test above').toBe(true);
    const version = runWith(node, '--version');
    expect(version.status, version.stderr).toBe(0);
    // A day of load at one minute, ending now: enough for the first forecasts.
    const now = Math.floor(Date.now() / 60_000) * 60;
    const timestamps = Array.from({ length: 1440 }, (_, i) => now - (1439 - i) * 60);
    const prometheus = await startPrometheus({ history: [{ name: 'image_test_load', labels: { namespace: 'web', workload: 'site' }, timestamps, values: timestamps.map((t) => 50 + 30 * Math.sin((2 * Math.PI * t) / 86_400)) }] });
    const dir = join(work, `run-${NODES.indexOf(node)}`);
    mkdirSync(dir);
    // The serving certificate as the HPA overlay mounts it (cert-manager's Secret), given by flags.
    const pems = await generate([{ name: 'commonName', value: 'shadowscale-adapter.test' }], { keySize: 2048 });
    writeFileSync(join(dir, 'tls.crt'), pems.cert);
    writeFileSync(join(dir, 'tls.key'), pems.private);
    const [adapterHttp, receiverHttp] = [await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'config.yaml'),
      `prometheus: { url: ${prometheus.url} }
adapter: { listen: { http: "127.0.0.1:${adapterHttp}", https: "127.0.0.1:0", grpc: "127.0.0.1:0" }, history: 1d, step: 1m }
receiver: { listen: "127.0.0.1:${receiverHttp}", target: local }
workloads:
  - { name: site, namespace: web, load: 'sum(image_test_load{workload="site"})', model: seasonal-naive, capacityPerReplica: 10, provisioningLag: 2m, primary: { name: site, maxReplicas: 20 } }
`,
    );
    const started = [
      startProcess(node, [join(tree, 'bin', 'shadowscale.mjs'), 'adapter', '--config', join(dir, 'config.yaml'), '--tls-cert-file', join(dir, 'tls.crt'), '--tls-private-key-file', join(dir, 'tls.key')], { cwd: tree, logFile: join(dir, 'adapter.log') }),
      startProcess(node, [join(tree, 'bin', 'shadowscale.mjs'), 'receiver', '--config', join(dir, 'config.yaml')], { cwd: tree, logFile: join(dir, 'receiver.log') }),
    ];
    try {
      await waitForHttp(`http://127.0.0.1:${adapterHttp}/readyz`, started[0], 60_000);
      const metrics = await (await fetch(`http://127.0.0.1:${adapterHttp}/metrics`)).text();
      expect(metrics).toMatch(/shadowscale_desired_replicas\{[^}]*workload="site"[^}]*\} \d/);
      // V8's background threads yield to the request thread as the fits do, on a Node that names
      // them (the image's); on an older one the log says why they do not.
      const v8Workers = threadsNamed(V8_WORKER_THREAD_NAME, started[0].pid);
      if (v8Workers.length > 0) {
        expect(v8Workers.map((tid) => procStat(`/proc/${started[0].pid}/task/${tid}/stat`)?.policy)).toEqual(v8Workers.map(() => SCHED_IDLE));
        expect(procStat(`/proc/${started[0].pid}/stat`)?.policy, 'the request thread').toBe(0);
      } else {
        expect(readFileSync(join(dir, 'adapter.log'), 'utf8')).toContain(`no thread is named ${V8_WORKER_THREAD_NAME}`);
      }
      await waitForHttp(`http://127.0.0.1:${receiverHttp}/readyz`, started[1], 30_000);
    } finally {
      await Promise.all(started.map((p) => p.stop()));
      await prometheus.stop();
    }
  }, 180_000);
});
