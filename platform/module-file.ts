/**
 * A module beside another, as this build runs: in a checkout, its `.ts` source through tsx (the way
 * `bin/shadowscale.mjs` runs the CLI there); in the image, its compiled `.js` under dist/, with no
 * loader. For worker threads and child processes, which start from a file of their own.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

export function siblingModule(from: string, name: string): { url: URL; path: string; execArgv: string[] } {
  const source = from.endsWith('.ts');
  const url = new URL(`./${name}.${source ? 'ts' : 'js'}`, from);
  return { url, path: fileURLToPath(url), execArgv: source ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [] };
}
