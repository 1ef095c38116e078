#!/usr/bin/env node
// `npm run build [-- OUT]`: compiles the TypeScript to JavaScript in OUT (default dist/) with the
// files the code reads beside itself (package.json for --version, the KEDA proto, the dashboards'
// JSON, the rules, the example Alertmanager configuration), so that `node bin/shadowscale.mjs` runs
// without tsx where there are no sources (the image).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'dist'));
rmSync(out, { recursive: true, force: true });
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit', cwd: root });
const copy = (from, to = from) => {
  if (!existsSync(join(root, from))) throw new Error(`build: ${from} is missing`);
  mkdirSync(dirname(join(out, to)), { recursive: true });
  cpSync(join(root, from), join(out, to), { recursive: true });
};
copy('package.json');
copy('adapter/externalscaler.proto');
copy('dashboards/json');
copy('alertmanager/alertmanager.yml');
for (const dir of ['recording-rules', 'recording-rules/inputs']) {
  for (const f of readdirSync(join(root, dir))) if (f.endsWith('.rules.yml')) copy(join(dir, f));
}
