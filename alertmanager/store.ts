/**
 * The receiver's memory per workload (alerts seen, role changes): the only state it keeps, so that a
 * restart converges to the same end state. A JSON file for the local target, a ConfigMap on Kubernetes
 * (`configmap-store.ts`), an in-memory map in tests.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { emptyMemory, type WorkloadMemory } from '../core/promotion/promotion.ts';

export interface MemoryStore {
  load(key: string): Promise<WorkloadMemory>;
  /**
   * Durable when it resolves; throws when the memory could not be recorded, and MemoryConflict when
   * someone else wrote it since it was loaded (the next load reads theirs: apply the change to it again).
   */
  save(key: string, memory: WorkloadMemory): Promise<void>;
}

/** The memory changed under this writer (another leader wrote it): never overwrite it, re-apply to it. */
export class MemoryConflict extends Error {
  constructor(what: string) {
    super(`${what} was written by someone else since it was read`);
    this.name = 'MemoryConflict';
  }
}

export class InMemoryStore implements MemoryStore {
  readonly data = new Map<string, string>();
  async load(key: string): Promise<WorkloadMemory> {
    const text = this.data.get(key);
    return text ? parseMemory(text, key) : emptyMemory();
  }
  async save(key: string, memory: WorkloadMemory): Promise<void> {
    this.data.set(key, JSON.stringify(memory));
  }
}

/** One JSON file holding every workload's memory, replaced atomically (write, fsync by rename). */
export class FileStore implements MemoryStore {
  private cache: Record<string, WorkloadMemory>;

  constructor(private readonly path: string) {
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`receiver state ${path}: ${(error as Error).message}`);
    }
    this.cache = {};
    if (text) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new Error(`receiver state ${path}: not JSON (${(error as Error).message}); move it away to start afresh`);
      }
      for (const [stored, value] of Object.entries(parsed as Record<string, unknown>)) {
        // Files written before keys were `namespace/name` used `namespace.name` (a namespace has no dot).
        const key = stored.includes('/') ? stored : stored.replace('.', '/');
        this.cache[key] = parseMemory(JSON.stringify(value), `${path}: ${stored}`);
      }
    }
  }

  async load(key: string): Promise<WorkloadMemory> {
    return structuredClone(this.cache[key] ?? emptyMemory());
  }

  async save(key: string, memory: WorkloadMemory): Promise<void> {
    const next = { ...this.cache, [key]: memory };
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(next, null, 1));
    renameSync(tmp, this.path);
    this.cache = next;
  }
}

/** Reads a stored memory back, checking its shape (a hand-edited or truncated state must not crash the receiver). */
export function parseMemory(text: string, where: string): WorkloadMemory {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`receiver state ${where}: not JSON (${(error as Error).message})`);
  }
  const v = value as Partial<WorkloadMemory> | null;
  if (!v || typeof v !== 'object' || typeof v.alerts !== 'object' || v.alerts === null || typeof v.swapped !== 'boolean' || !Array.isArray(v.roleChanges)) {
    throw new Error(`receiver state ${where}: expected {alerts, swapped, roleChanges}`);
  }
  if (v.serving !== undefined && typeof v.serving !== 'string') throw new Error(`receiver state ${where}: serving must be a set's name`);
  return v as WorkloadMemory;
}
