/**
 * One place that loads the WASM of @bsull/augurs. Each subpath ships its own `*_bg.wasm`, which is not in
 * the package's `exports`, so we resolve the subpath's `.js` and read the file beside it. Node's
 * `createRequire().resolve` works under vitest where `import.meta.resolve` does not.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

import * as mstlModule from '@bsull/augurs/mstl';
import * as etsModule from '@bsull/augurs/ets';
import * as outlierModule from '@bsull/augurs/outlier';
import * as prophetModule from '@bsull/augurs/prophet';
import type { ProphetOptions } from '@bsull/augurs/prophet';

type ProphetOptimizer = ProphetOptions['optimizer'];

const require = createRequire(import.meta.url);

interface WasmModule {
  initSync(module: { module: BufferSource }): unknown;
}

const initialised = new Set<string>();

function init(subpath: string, mod: WasmModule): void {
  if (initialised.has(subpath)) return;
  const jsPath = require.resolve(`@bsull/augurs/${subpath}`);
  mod.initSync({ module: readFileSync(jsPath.replace(/\.js$/, '_bg.wasm')) });
  initialised.add(subpath);
}

export function mstl(): typeof mstlModule {
  init('mstl', mstlModule);
  return mstlModule;
}

export function ets(): typeof etsModule {
  init('ets', etsModule);
  return etsModule;
}

export function outlier(): typeof outlierModule {
  init('outlier', outlierModule);
  return outlierModule;
}

export function prophet(): typeof prophetModule {
  init('prophet', prophetModule);
  return prophetModule;
}

let prophetOptimizer: ProphetOptimizer | undefined;

/**
 * The Prophet optimiser (Stan compiled to WASM) loads with top-level await, so it cannot be loaded
 * synchronously on first use. Call this once at start-up; models stay synchronous after it.
 */
export async function loadProphetOptimizer(): Promise<ProphetOptimizer> {
  if (!prophetOptimizer) {
    const wasmstan = await import('@bsull/augurs-prophet-wasmstan');
    prophetOptimizer = wasmstan.optimizer as unknown as ProphetOptimizer;
  }
  return prophetOptimizer;
}

export function prophetOptimizerLoaded(): ProphetOptimizer | undefined {
  return prophetOptimizer;
}
