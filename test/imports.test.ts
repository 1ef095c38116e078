/**
 * The import rules of the layout (docs/architecture.md): `core/` is pure and imports no edge;
 * `platform/` (the clients and process runtime both services share) imports only `core/`; the adapter
 * and the receiver (`alertmanager/`, `actuators/`, `provisioner/`) never import each other; the
 * actuators import only `core/` and `platform/`; and no module imports itself through
 * others (static or dynamic imports alike). Tests and benchmarks may use anything but each other's
 * services' internals across the adapter/receiver line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const SKIP = new Set(['node_modules', '.git', 'bench', 'dist']);

function sources(dir = ROOT): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (SKIP.has(name) || name.startsWith('.')) return [];
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mjs)$/.test(name) ? [relative(ROOT, path)] : [];
  });
}

/** The repository files a module imports (relative specifiers only: packages and node: are not edges of the layout). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) out.push(normalize(join(dirname(file), m[1])));
  return out;
}

const files = sources();
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const isTest = (f: string) => /\.test\.ts$/.test(f) || f.startsWith('test/');
const top = (f: string) => f.split('/')[0];

describe('the import rules', () => {
  it('resolves every relative import to a file of the repository', () => {
    const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${f} → ${d}`));
    expect(files.length).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });

  it('keeps core/ pure: it imports only core/', () => {
    const bad = [...graph].filter(([f]) => top(f) === 'core' && !isTest(f)).flatMap(([f, deps]) => deps.filter((d) => top(d) !== 'core').map((d) => `${f} → ${d}`));
    expect(bad).toEqual([]);
  });

  it('keeps platform/ below the services: it imports only core/ and platform/', () => {
    const bad = [...graph].filter(([f]) => top(f) === 'platform' && !isTest(f)).flatMap(([f, deps]) => deps.filter((d) => !['core', 'platform'].includes(top(d))).map((d) => `${f} → ${d}`));
    expect(bad).toEqual([]);
  });

  it('lets the adapter and the receiver share only core/ and platform/, never import each other', () => {
    // The receiver's process: the webhook's reconciler (alertmanager/), its actuators and the shadow provisioner.
    const receiver = new Set(['alertmanager', 'actuators', 'provisioner']);
    const bad = [...graph].flatMap(([f, deps]) =>
      deps.filter((d) => (top(f) === 'adapter' && receiver.has(top(d))) || (receiver.has(top(f)) && top(d) === 'adapter')).map((d) => `${f} → ${d}`),
    );
    expect(bad).toEqual([]);
  });

  it('keeps the actuators below the receiver: they import only core/, platform/ and each other', () => {
    const bad = [...graph].filter(([f]) => top(f) === 'actuators' && !isTest(f)).flatMap(([f, deps]) => deps.filter((d) => !['core', 'platform', 'actuators'].includes(top(d))).map((d) => `${f} → ${d}`));
    expect(bad).toEqual([]);
  });

  it('lets nothing but bin/ import cli/, and keeps simulation/ on core/ and platform/', () => {
    const intoCli = [...graph].filter(([f]) => top(f) !== 'cli' && !isTest(f)).flatMap(([f, deps]) => deps.filter((d) => top(d) === 'cli').map((d) => `${f} → ${d}`));
    expect(intoCli).toEqual([]);
    const simulation = [...graph].filter(([f]) => top(f) === 'simulation' && !isTest(f)).flatMap(([f, deps]) => deps.filter((d) => !['core', 'platform', 'simulation'].includes(top(d))).map((d) => `${f} → ${d}`));
    expect(simulation).toEqual([]);
  });

  it('has no import cycle among the modules that ship', () => {
    const shipped = files.filter((f) => !isTest(f));
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' → '));
        return;
      }
      state.set(f, 'visiting');
      for (const d of graph.get(f) ?? []) if (!isTest(d)) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of shipped) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
