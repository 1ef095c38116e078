/**
 * The receiver's memory in a ConfigMap (one key per workload), written with optimistic concurrency,
 * so that a restarted or newly elected receiver continues from the same intent.
 */
import type { WorkloadMemory } from '../../core/promotion/promotion.ts';
import { emptyMemory } from '../../core/promotion/promotion.ts';
import { parseMemory, type MemoryStore } from '../store.ts';
import { isNotFound, statusOf, type KubeApis } from './api.ts';

export class ConfigMapStore implements MemoryStore {
  constructor(
    private readonly apis: KubeApis,
    private readonly namespace: string,
    private readonly name: string,
  ) {}

  private read() {
    return this.apis.core.readNamespacedConfigMap({ name: this.name, namespace: this.namespace }, this.apis.options());
  }

  async load(key: string): Promise<WorkloadMemory> {
    try {
      const cm = await this.apis.retry(`read ConfigMap ${this.namespace}/${this.name}`, () => this.read());
      const text = cm.data?.[key];
      return text ? parseMemory(text, `ConfigMap ${this.namespace}/${this.name} key ${key}`) : emptyMemory();
    } catch (error) {
      if (isNotFound(error)) return emptyMemory();
      throw error;
    }
  }

  async save(key: string, memory: WorkloadMemory): Promise<void> {
    await this.apis.retry(`write ConfigMap ${this.namespace}/${this.name}`, async () => {
      let cm;
      try {
        cm = await this.read();
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
        const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: this.name, namespace: this.namespace, labels: { 'app.kubernetes.io/managed-by': 'shadowscale' } }, data: { [key]: JSON.stringify(memory) } };
        await this.apis.core.createNamespacedConfigMap({ namespace: this.namespace, body }, this.apis.options());
        return;
      }
      // A replace with the read resourceVersion: a concurrent writer makes it a 409, and the retry re-reads.
      const body = { ...cm, data: { ...(cm.data ?? {}), [key]: JSON.stringify(memory) } };
      await this.apis.core.replaceNamespacedConfigMap({ name: this.name, namespace: this.namespace, body }, this.apis.options());
    });
  }
}
