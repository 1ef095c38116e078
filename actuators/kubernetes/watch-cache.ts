/**
 * What a reconciliation observes, from memory: informer caches (client-node's ListWatch: a list, then a
 * watch from its resourceVersion) of the Deployments, StatefulSets and HPAs of a namespace, started on
 * first use, or ahead of it for the configured workloads. A webhook then reaches its first write
 * without reading them from the API server first.
 *
 * The cache answers only when it can be trusted, and `undefined` otherwise, which makes the caller read
 * the object from the API as before:
 * - not before its list has arrived, and not while its watch is down (an error, a 403 for a missing
 *   `watch` permission, an expired resourceVersion being listed again); a failed informer is replaced
 *   by a new one after a backoff, and every one is replaced after `resyncMs` (a watch whose connection
 *   died without a word would otherwise keep a stale cache for ever);
 * - not with an older version of an object than this process has itself read or written (a write is
 *   observed again right after it, before the watch may have brought it): until the watch catches up,
 *   it answers with what was read or what the write made of the object, as client-go's mutation cache
 *   does, or not at all. Versions are compared as the integers etcd gives them, as client-go does; one
 *   that is not an integer is never trusted.
 * A write made on a cached version that is already stale is refused by the API server (409), and the
 * writers read the object then, so a stale cache costs a round trip, never a lost update.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeApis } from '../../platform/kubernetes.ts';

export type CachedKind = 'Deployment' | 'StatefulSet' | 'HorizontalPodAutoscaler';

export interface WatchCacheOptions {
  /** Every informer is replaced by a new list and watch this often. Default 5 minutes. */
  resyncMs?: number;
  /** The first wait before a failed informer is replaced (doubled up to a minute). Default 1 s. */
  restartMs?: number;
  /** Told when an informer fails (and once it is live again: error undefined). */
  onError?: (what: string, error: Error | undefined) => void;
}

interface Entry {
  informer: ListWatch<KubernetesObject>;
  failed: boolean;
  timer?: NodeJS.Timeout;
  failures: number;
}

const PATHS: Record<CachedKind, (namespace: string) => string> = {
  Deployment: (ns) => `/apis/apps/v1/namespaces/${ns}/deployments`,
  StatefulSet: (ns) => `/apis/apps/v1/namespaces/${ns}/statefulsets`,
  HorizontalPodAutoscaler: (ns) => `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`,
};

/** `a` older than `b`, both etcd revisions; undefined when either is not an integer. */
export function olderVersion(a: string, b: string): boolean | undefined {
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  return a.length !== b.length ? a.length < b.length : a < b;
}

export class WatchCache {
  private readonly entries = new Map<string, Entry>();
  /** The newest resourceVersion this process has read or written, per object, until the cache has it. */
  private readonly known = new Map<string, { version: string; object?: KubernetesObject }>();
  private stopped = false;
  private readonly watch: Watch;

  constructor(
    private readonly apis: KubeApis,
    kubeConfig: KubeConfig,
    private readonly options: WatchCacheOptions = {},
  ) {
    this.watch = new Watch(kubeConfig);
  }

  /** Starts the informer of `kind` in `namespace` (a no-op when it runs). */
  start(kind: CachedKind, namespace: string): void {
    const key = `${kind}/${namespace}`;
    if (this.stopped || this.entries.has(key)) return;
    this.entries.set(key, this.launch(kind, namespace, 0));
  }

  /** The object as the cache has it, or undefined when the cache cannot be trusted for it (read it from the API). */
  get<T>(kind: CachedKind, namespace: string, name: string): T | undefined {
    const entry = this.entries.get(`${kind}/${namespace}`);
    if (!entry) {
      this.start(kind, namespace);
      return undefined;
    }
    if (entry.failed || entry.informer.latestResourceVersion() === '') return undefined;
    const object = entry.informer.get(name, namespace);
    const version = object?.metadata?.resourceVersion;
    if (!object || !version) return undefined;
    const id = `${kind}/${namespace}/${name}`;
    const newer = this.known.get(id);
    if (newer !== undefined) {
      // Behind what this process has read or written: that, when it has the whole object, else nothing.
      if (olderVersion(version, newer.version) !== false) return newer.object as T | undefined;
      this.known.delete(id);
    }
    return object as T;
  }

  /**
   * Records an object this process has just read or written, at `resourceVersion`: until the watch
   * brings that version, the cache answers for it with `object` (what was read, or what the write made
   * of what was observed), or not at all without one.
   */
  seen(kind: CachedKind, namespace: string, name: string, resourceVersion: string | undefined, object?: KubernetesObject): void {
    if (!resourceVersion) return;
    const id = `${kind}/${namespace}/${name}`;
    const before = this.known.get(id);
    if (before === undefined || olderVersion(before.version, resourceVersion) !== false) this.known.set(id, { version: resourceVersion, ...(object ? { object } : {}) });
  }

  /** Informers running, and how many of them answer (listed, watching). */
  status(): { informers: number; live: number } {
    const all = [...this.entries.values()];
    return { informers: all.length, live: all.filter((e) => !e.failed && e.informer.latestResourceVersion() !== '').length };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) clearTimeout(e.timer);
    await Promise.all(all.map((e) => e.informer.stop()));
  }

  private launch(kind: CachedKind, namespace: string, failures: number): Entry {
    const key = `${kind}/${namespace}`;
    const what = `watch of ${kind}s in ${namespace}`;
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const o = this.apis.options();
      const listed =
        kind === 'Deployment'
          ? await this.apis.apps.listNamespacedDeployment({ namespace }, o)
          : kind === 'StatefulSet'
            ? await this.apis.apps.listNamespacedStatefulSet({ namespace }, o)
            : await this.apis.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace }, o);
      if (failures > 0 && this.entries.get(key) === entry) this.options.onError?.(what, undefined);
      return listed;
    };
    const informer = new ListWatch<KubernetesObject>(PATHS[kind](namespace), this.watch, list, false);
    const entry: Entry = { informer, failed: false, failures };
    const replace = (delayMs: number) => {
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => {
        if (this.stopped || this.entries.get(key) !== entry) return;
        void informer.stop();
        this.entries.set(key, this.launch(kind, namespace, entry.failed ? entry.failures : 0));
      }, delayMs);
      entry.timer.unref();
    };
    informer.on('error', (error: Error) => {
      if (entry.failed || this.entries.get(key) !== entry) return;
      entry.failed = true;
      entry.failures++;
      this.options.onError?.(what, error instanceof Error ? error : new Error(String(error)));
      replace(Math.min(60_000, (this.options.restartMs ?? 1000) * 2 ** (entry.failures - 1)));
    });
    replace(this.options.resyncMs ?? 300_000);
    void informer.start();
    return entry;
  }
}
