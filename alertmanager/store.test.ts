/**
 * Workload keys are `namespace/name` everywhere; memory written under the earlier `namespace.name`
 * keys is found after an upgrade, in a state file and in the state ConfigMaps alike.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { workloadKey } from '../core/config.ts';
import { emptyMemory } from '../core/promotion/promotion.ts';
import { createKubeApis, kubeConfigFor } from '../platform/kubernetes.ts';
import { ConfigMapStore } from './configmap-store.ts';
import { FileStore } from './store.ts';

describe('the receiver memory under one workload key', () => {
  it('reads a state file written with namespace.name keys, and writes namespace/name', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'shadowscale-store-')), 'state.json');
    writeFileSync(path, JSON.stringify({ 'shop.checkout.v2': { ...emptyMemory(), serving: 'checkout.v2-shadow' } }));
    const store = new FileStore(path);
    const key = workloadKey('shop', 'checkout.v2');
    expect(key).toBe('shop/checkout.v2');
    expect((await store.load(key)).serving).toBe('checkout.v2-shadow');
    await store.save(key, await store.load(key));
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')))).toEqual(['shop/checkout.v2']);
  });

  it('names the state ConfigMap as before', () => {
    const store = new ConfigMapStore(createKubeApis(kubeConfigFor('http://127.0.0.1:9'), { timeoutMs: 100, retries: 0 }), 'shadowscale', 'shadowscale-receiver-state');
    expect(store.nameOf(workloadKey('shop', 'checkout'))).toBe('shadowscale-receiver-state-shop-checkout');
    expect(store.nameOf(workloadKey('shop', 'checkout.v2'))).toBe('shadowscale-receiver-state-shop-checkout-v2');
  });
});
