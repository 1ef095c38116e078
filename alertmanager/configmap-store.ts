/**
 * The receiver's memory in ConfigMaps, one per workload (`<prefix>-<namespace>-<workload>` in the
 * receiver's namespace), so that a restarted or newly elected receiver continues from the same intent.
 * One object per workload keeps writes small, keeps workloads from contending for one object, and stays
 * far from the 1 MiB object limit however many workloads there are. Only the leader writes, one write
 * per workload at a time (the receiver serialises work per workload); it keeps the version it last read
 * or wrote and writes with it, so a concurrent writer (a new leader) makes the write a 409. Then the
 * write is not repeated with this writer's memory, which would erase the other's (a resolved alert it
 * recorded, a move it made): the cache is dropped and MemoryConflict thrown, and the caller applies its
 * change again to the memory it reads next.
 */
import { createHash } from 'node:crypto';

import type { V1ConfigMap } from '@kubernetes/client-node';

import type { WorkloadMemory } from '../core/promotion/promotion.ts';
import { emptyMemory } from '../core/promotion/promotion.ts';
import { MemoryConflict, parseMemory, type MemoryStore } from './store.ts';
import { statusOf, type KubeApis } from '../platform/kubernetes.ts';

const KEY = 'memory.json';

export class ConfigMapStore implements MemoryStore {
  /** Last read or written ConfigMap per workload; null = known not to exist. */
  private readonly cached = new Map<string, V1ConfigMap | null>();
  /** Bumped by invalidate(): a list begun before it is not used. */
  private generation = 0;

  constructor(
    private readonly apis: KubeApis,
    private readonly namespace: string,
    private readonly prefix: string,
  ) {}

  /** The ConfigMap of a workload key (`namespace/name`): a DNS subdomain of at most 253 characters. */
  nameOf(key: string): string {
    // The names the earlier `namespace.name` keys gave, so an upgrade finds its memory.
    const legacy = key.replace('/', '.');
    const name = `${this.prefix}-${legacy.replace(/\./g, '-')}`;
    if (name.length <= 253) return name;
    return `${name.slice(0, 240)}-${createHash('sha256').update(legacy).digest('hex').slice(0, 12)}`;
  }

  private async read(key: string): Promise<V1ConfigMap | null> {
    const name = this.nameOf(key);
    let cm: V1ConfigMap | null;
    try {
      cm = await this.apis.retry(`read ConfigMap ${this.namespace}/${name}`, () => this.apis.core.readNamespacedConfigMap({ name, namespace: this.namespace }, this.apis.options()));
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw error;
      cm = null;
    }
    this.cached.set(key, cm);
    return cm;
  }

  async load(key: string): Promise<WorkloadMemory> {
    const cm = this.cached.has(key) ? this.cached.get(key)! : await this.read(key);
    const text = cm?.data?.[KEY];
    return text ? parseMemory(text, `ConfigMap ${this.namespace}/${this.nameOf(key)} key ${KEY}`) : emptyMemory();
  }

  /** Forgets the cached copies, so the next loads read the API (a new leader must not trust old copies). */
  invalidate(): void {
    this.generation++;
    this.cached.clear();
  }

  /**
   * Reads the memory of every workload in `keys` in one list (by the labels every memory ConfigMap is
   * created with), so that the first webhook of each workload writes without reading first; a workload
   * without one is known to have none. Keys read or written meanwhile keep what they have, and a list
   * begun before invalidate() is dropped. A ConfigMap the list missed (no labels) makes the first write
   * a 409, after which it is read, as on any conflict. Returns how many it found.
   */
  async prime(keys: readonly string[]): Promise<number> {
    const generation = this.generation;
    const list = await this.apis.retry(`list ConfigMaps in ${this.namespace}`, () =>
      this.apis.core.listNamespacedConfigMap({ namespace: this.namespace, labelSelector: 'app.kubernetes.io/managed-by=shadowscale,shadowscale.io/workload' }, this.apis.options()),
    );
    if (generation !== this.generation) return 0;
    const byName = new Map(list.items.map((cm) => [cm.metadata?.name, cm]));
    let found = 0;
    for (const key of keys) {
      const cm = byName.get(this.nameOf(key));
      if (cm) found++;
      if (!this.cached.has(key)) this.cached.set(key, cm ?? null);
    }
    return found;
  }

  async save(key: string, memory: WorkloadMemory): Promise<void> {
    const name = this.nameOf(key);
    const what = `ConfigMap ${this.namespace}/${name}`;
    const data = { [KEY]: JSON.stringify(memory) };
    const current = this.cached.has(key) ? this.cached.get(key)! : await this.read(key);
    try {
      let written: V1ConfigMap;
      if (current === null) {
        const [namespace, ...rest] = key.split('/');
        const body = {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, namespace: this.namespace, labels: { 'app.kubernetes.io/managed-by': 'shadowscale', 'shadowscale.io/workload-namespace': namespace, 'shadowscale.io/workload': rest.join('/').slice(0, 63) } },
          data,
        };
        written = await this.apis.retry(`create ${what}`, () => this.apis.core.createNamespacedConfigMap({ namespace: this.namespace, body }, this.apis.options()), { conflicts: false });
      } else {
        const body = { ...current, data: { ...(current.data ?? {}), ...data } };
        written = await this.apis.retry(`write ${what}`, () => this.apis.core.replaceNamespacedConfigMap({ name, namespace: this.namespace, body }, this.apis.options()), { conflicts: false });
      }
      this.cached.set(key, written);
    } catch (error) {
      this.cached.delete(key);
      // Someone else wrote it (409) or created it (409 AlreadyExists).
      const code = statusOf(error) ?? (error as { code?: number }).code;
      if (code === 409) throw new MemoryConflict(what);
      throw error;
    }
  }
}
