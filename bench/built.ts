/**
 * How the benchmarks start a service as the image runs it: the compiled JavaScript of `npm run build`
 * (dist/), with no TypeScript loader, built once first. A checkout's `bin/shadowscale.mjs` runs the
 * sources through tsx, whose loader is not what a user runs.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { arg } from './args.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
let built = false;

/** Node arguments that run `shadowscale <args>` from dist/ (built now if not yet in this run). */
export function builtShadowscale(args: string[]): string[] {
  if (!built) {
    const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
    built = true;
  }
  const main = pathToFileURL(join(ROOT, 'dist', 'cli', 'main.js')).href;
  const code = `const { main } = await import(${JSON.stringify(main)}); const status = await main([process.argv[0], 'shadowscale', ...process.argv.slice(1)]); if (status !== 0) process.exit(status); process.exitCode = status;`;
  return ['--input-type=module', '-e', code, ...args];
}

/**
 * The Node.js binary a benchmark runs the service with: `--node PATH`, else this process's. The image
 * runs Node 24, and this machine's may be older (`npx -p node@24 node -p process.execPath` gives one).
 * With its version and how to print it.
 */
export function serviceNode(): { path: string; version: string; described: string } {
  const path = arg('--node', process.execPath);
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  if (!version) throw new Error(`--node ${path}: not a Node.js binary`);
  return { path, version, described: `Node ${version}${path === process.execPath ? " (this bench's)" : ` (${path})`}` };
}
