#!/usr/bin/env node
// In a checkout (the sources beside this file), runs the TypeScript through tsx, resolved from this
// package, so no build step is needed; in the image (no sources, `npm run build`'s dist/), runs the
// compiled JavaScript with no loader.
import { existsSync } from 'node:fs';

const source = new URL('../cli/main.ts', import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import(new URL('../dist/cli/main.js', import.meta.url).href));
}
const status = await main(process.argv);
// A service that failed while starting may hold a listener it opened before the failure: exit now.
if (status !== 0) process.exit(status);
process.exitCode = status;
