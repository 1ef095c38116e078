/**
 * The signals a reconciliation reads are read for the workloads wanted at once, and kept for a short
 * while: one query per signal for a burst, never an answer older than `maxAgeMs`, never a failure
 * hidden behind an older answer.
 */
import { describe, expect, it, vi } from 'vitest';

import type { WorkloadConfig } from '../core/config.ts';
import { PrometheusClient, type InstantSample } from '../platform/prometheus.ts';
import { startPrometheus } from '../platform/runtime/prometheus.ts';
import { PrometheusSignals } from './signals.ts';

const workload = (namespace: string, name: string) => ({ namespace, name }) as WorkloadConfig;
const withShadow = (namespace: string, name: string) => ({ namespace, name, shadow: { name: `${name}-shadow` } }) as WorkloadConfig;
const sample = (metric: string, namespace: string, workload: string, value: number): InstantSample & { metric: string } => ({ metric, labels: { namespace, workload }, timestamp: 0, value });

/**
 * A Prometheus that answers the batched queries from `series` (the selector's two regular expressions
 * applied as Prometheus applies them: anchored), counts them, and can be held or made to fail.
 */
function prometheus() {
  const series: ReturnType<typeof sample>[] = [];
  const queries: string[] = [];
  let fail: Error | undefined;
  let held: Array<() => void> | undefined;
  return {
    series,
    queries,
    failWith(error: Error | undefined) {
      fail = error;
    },
    hold() {
      held = [];
    },
    release() {
      const waiting = held ?? [];
      held = undefined;
      for (const go of waiting) go();
    },
    async query(q: string): Promise<InstantSample[]> {
      queries.push(q);
      if (held) await new Promise<void>((resolve) => held!.push(resolve));
      if (fail) throw fail;
      const m = /^max by \(namespace, workload\) \(([\w:]+)\{namespace=~("[^"]*")(?:,workload=~("[^"]*"))?\}\)$/.exec(q);
      if (!m) throw new Error(`unexpected query ${q}`);
      const [namespaces, workloads] = [m[2], m[3] ?? '".*"'].map((re) => new RegExp(`^(?:${JSON.parse(re)})$`));
      return series
        .filter((s) => s.metric === m[1] && namespaces.test(s.labels.namespace) && workloads.test(s.labels.workload))
        .map(({ labels, timestamp, value }) => ({ labels, timestamp, value }));
    },
  };
}

describe('PrometheusSignals', () => {
  it('reads each signal once for the workloads wanted at once, by namespace and workload', async () => {
    const p = prometheus();
    p.series.push(
      sample('shadowscale_forecast_desired_replicas', 'shop', 'checkout.v2', 9),
      sample('shadowscale_shadow_pool_size', 'shop', 'checkout.v2', 2),
      // A dot is not a wildcard: checkoutXv2 is another workload.
      sample('shadowscale_forecast_desired_replicas', 'shop', 'checkoutXv2', 7),
      sample('shadowscale_shadow_pool_size', 'shop', 'checkoutXv2', 1),
      sample('shadowscale_forecast_desired_replicas', 'shop', 'cart', 4),
      sample('shadowscale:shadow_ready:bool', 'shop', 'cart', 1),
      // The same name in another namespace is another workload.
      sample('shadowscale:shadow_ready:bool', 'other', 'checkout.v2', 1),
    );
    const now = 1_000_000;
    const signals = new PrometheusSignals(p, { now: () => now });
    const plans = await Promise.all(['checkout.v2', 'cart', 'checkout.v2', 'missing'].map((name) => signals.plan(workload('shop', name))));
    expect(plans).toEqual([{ desiredReplicas: 9, shadowPoolSize: 2 }, undefined, { desiredReplicas: 9, shadowPoolSize: 2 }, undefined]);
    expect(p.queries.sort()).toEqual([
      'max by (namespace, workload) (shadowscale_forecast_desired_replicas{namespace=~"shop",workload=~"checkout\\\\.v2|cart|missing"})',
      'max by (namespace, workload) (shadowscale_shadow_pool_size{namespace=~"shop",workload=~"checkout\\\\.v2|cart|missing"})',
    ]);
    expect(await Promise.all([signals.shadowReady(workload('shop', 'cart')), signals.shadowReady(workload('shop', 'checkout.v2'))])).toEqual([true, false]);
    expect(p.queries).toHaveLength(3);
    // Read and kept: absent included.
    expect(await signals.riseExpected('shop', 'checkout.v2', 8)).toBe(true);
    expect(await signals.riseExpected('shop', 'checkout.v2', 9)).toBe(false);
    expect(await signals.riseExpected('shop', 'missing', 1)).toBeUndefined();
    expect(p.queries).toHaveLength(3);
    expect(await signals.riseExpected('shop', 'checkoutXv2', 1)).toBe(true);
    expect(p.queries).toHaveLength(4);
  });

  it('reads at most 100 workloads per query', async () => {
    const p = prometheus();
    const signals = new PrometheusSignals(p, { now: () => 0 });
    await Promise.all(Array.from({ length: 250 }, (_, i) => signals.shadowReady(workload('shop', `w${i}`))));
    expect(p.queries.map((q) => q.split('|').length)).toEqual([100, 100, 50]);
  });

  it('reads again once the answer is older than maxAgeMs, and joins a read under way', async () => {
    const p = prometheus();
    p.series.push(sample('shadowscale:shadow_ready:bool', 'shop', 'checkout', 0));
    let now = 0;
    const signals = new PrometheusSignals(p, { maxAgeMs: 2000, now: () => now });
    expect(await signals.shadowReady(workload('shop', 'checkout'))).toBe(false);
    p.series[0].value = 1;
    now = 2000;
    expect(await signals.shadowReady(workload('shop', 'checkout'))).toBe(false);
    expect(p.queries).toHaveLength(1);
    now = 2001;
    p.hold();
    const first = signals.shadowReady(workload('shop', 'checkout'));
    const second = signals.shadowReady(workload('shop', 'checkout'));
    p.release();
    expect(await Promise.all([first, second])).toEqual([true, true]);
    expect(p.queries).toHaveLength(2);
    // maxAgeMs 0: every call reads.
    const uncached = new PrometheusSignals(p, { maxAgeMs: 0, now: () => now });
    await uncached.shadowReady(workload('shop', 'checkout'));
    now += 1;
    await uncached.shadowReady(workload('shop', 'checkout'));
    expect(p.queries).toHaveLength(4);
  });

  it('gives a failed read to its callers and never answers from an older copy; the next call reads again', async () => {
    const p = prometheus();
    p.series.push(sample('shadowscale:shadow_ready:bool', 'shop', 'checkout', 1));
    let now = 0;
    const signals = new PrometheusSignals(p, { maxAgeMs: 2000, now: () => now });
    expect(await signals.shadowReady(workload('shop', 'checkout'))).toBe(true);
    now = 5000;
    p.failWith(new Error('Prometheus at http://127.0.0.1:9: connection refused'));
    const calls = [signals.shadowReady(workload('shop', 'checkout')), signals.shadowReady(workload('shop', 'checkout'))];
    for (const call of calls) await expect(call).rejects.toThrow(/connection refused/);
    expect(p.queries).toHaveLength(2);
    p.failWith(undefined);
    expect(await signals.shadowReady(workload('shop', 'checkout'))).toBe(true);
    expect(p.queries).toHaveLength(3);
  });

  it("stops waiting when the caller's signal aborts, without failing the others sharing the read", async () => {
    const p = prometheus();
    p.series.push(sample('shadowscale:shadow_ready:bool', 'shop', 'checkout', 1));
    const signals = new PrometheusSignals(p, { now: () => 0 });
    p.hold();
    const controller = new AbortController();
    const aborted = signals.shadowReady(workload('shop', 'checkout'), controller.signal);
    const other = signals.shadowReady(workload('shop', 'checkout'));
    controller.abort(new Error('reconciliation cancelled'));
    await expect(aborted).rejects.toThrow(/reconciliation cancelled/);
    p.release();
    expect(await other).toBe(true);
  });

  it('while refreshing, reads the whole fleet in one query per signal and answers from it without waiting', async () => {
    const p = prometheus();
    p.series.push(
      sample('shadowscale_forecast_desired_replicas', 'shop', 'checkout', 9),
      sample('shadowscale_shadow_pool_size', 'shop', 'checkout', 2),
      sample('shadowscale:shadow_ready:bool', 'web', 'site', 1),
      // Another namespace than the configured ones is not asked for.
      sample('shadowscale_forecast_desired_replicas', 'elsewhere', 'checkout', 1),
    );
    let now = 0;
    let leading = true;
    const signals = new PrometheusSignals(p, { now: () => now });
    vi.useFakeTimers();
    try {
      // A workload without shadows needs no signal.
      signals.startRefresh([withShadow('shop', 'checkout'), withShadow('web', 'site'), workload('web', 'plain')], { refreshMs: 5000, active: () => leading });
      await vi.advanceTimersByTimeAsync(0);
      expect(p.queries.sort()).toEqual([
        'max by (namespace, workload) (shadowscale:shadow_ready:bool{namespace=~"shop|web"})',
        'max by (namespace, workload) (shadowscale_forecast_desired_replicas{namespace=~"shop|web"})',
        'max by (namespace, workload) (shadowscale_shadow_pool_size{namespace=~"shop|web"})',
      ]);
      expect(await signals.plan(withShadow('shop', 'checkout'))).toEqual({ desiredReplicas: 9, shadowPoolSize: 2 });
      expect(await signals.plan(withShadow('web', 'site'))).toBeUndefined();
      expect(await Promise.all([signals.shadowReady(withShadow('web', 'site')), signals.shadowReady(withShadow('shop', 'checkout'))])).toEqual([true, false]);
      expect(p.queries).toHaveLength(3);
      // Every refreshMs again, while leading.
      p.series[0].value = 12;
      now = 5000;
      await vi.advanceTimersByTimeAsync(5000);
      expect(p.queries).toHaveLength(6);
      expect(await signals.plan(withShadow('shop', 'checkout'))).toEqual({ desiredReplicas: 12, shadowPoolSize: 2 });
      // Not leading: no refresh; the answers are kept two refreshes, then read when wanted.
      leading = false;
      await vi.advanceTimersByTimeAsync(10_000);
      expect(p.queries).toHaveLength(6);
      now = 15_000;
      expect(await signals.plan(withShadow('shop', 'checkout'))).toEqual({ desiredReplicas: 12, shadowPoolSize: 2 });
      expect(p.queries).toHaveLength(6);
      now = 15_001;
      const asked = signals.plan(withShadow('shop', 'checkout'));
      await vi.advanceTimersByTimeAsync(5);
      expect(await asked).toEqual({ desiredReplicas: 12, shadowPoolSize: 2 });
      expect(p.queries.slice(6)).toEqual(expect.arrayContaining([expect.stringContaining('workload=~"checkout"')]));
      signals.stopRefresh();
      leading = true;
      await vi.advanceTimersByTimeAsync(20_000);
      expect(p.queries).toHaveLength(8);
    } finally {
      signals.stopRefresh();
      vi.useRealTimers();
    }
  });

  it('a failed refresh is reported and hides nothing: once its answers expire, a read fails as without refresh', async () => {
    const p = prometheus();
    p.series.push(sample('shadowscale:shadow_ready:bool', 'shop', 'checkout', 1));
    let now = 0;
    const errors: string[] = [];
    let successes = 0;
    const signals = new PrometheusSignals(p, { now: () => now });
    vi.useFakeTimers();
    try {
      signals.startRefresh([withShadow('shop', 'checkout')], { refreshMs: 5000, onError: (e) => errors.push(e.message), onSuccess: () => successes++ });
      await vi.advanceTimersByTimeAsync(0);
      expect(successes).toBe(1);
      p.failWith(new Error('Prometheus at http://127.0.0.1:9: connection refused'));
      now = 5000;
      await vi.advanceTimersByTimeAsync(5000);
      expect(errors).toEqual(['Prometheus at http://127.0.0.1:9: connection refused']);
      // Kept from the refresh at 0 until 10,000.
      now = 10_000;
      expect(await signals.shadowReady(withShadow('shop', 'checkout'))).toBe(true);
      now = 10_001;
      const asked = signals.shadowReady(withShadow('shop', 'checkout'));
      asked.catch(() => undefined);
      await vi.advanceTimersByTimeAsync(5);
      await expect(asked).rejects.toThrow(/connection refused/);
    } finally {
      signals.stopRefresh();
      vi.useRealTimers();
    }
  });

  it('against a real Prometheus: one query per signal for the workloads asked at once, dots matched literally', async () => {
    const end = Math.floor(Date.now() / 1000) - 30;
    const timestamps = Array.from({ length: 10 }, (_, i) => end - 60 * (9 - i));
    const series = (name: string, namespace: string, workload: string, value: number) => ({ name, labels: { namespace, workload, instance: `adapter-${value}` }, timestamps, values: timestamps.map(() => value) });
    const prometheus = await startPrometheus({
      history: [
        series('shadowscale_forecast_desired_replicas', 'shop', 'checkout.v2', 9),
        // A second adapter replica exporting the same plan: max() collapses them.
        series('shadowscale_forecast_desired_replicas', 'shop', 'checkout.v2', 8),
        series('shadowscale_shadow_pool_size', 'shop', 'checkout.v2', 2),
        series('shadowscale_forecast_desired_replicas', 'shop', 'checkoutXv2', 3),
        series('shadowscale_shadow_pool_size', 'shop', 'checkoutXv2', 1),
        series('shadowscale_forecast_desired_replicas', 'web', 'site', 5),
        series('shadowscale_shadow_pool_size', 'web', 'site', 4),
        series('shadowscale:shadow_ready:bool', 'web', 'site', 1),
      ],
    });
    try {
      const client = new PrometheusClient({ url: prometheus.url, timeoutSeconds: 10 });
      const queries: string[] = [];
      // By query: the three are in flight at once, and answer in any order.
      const answered = new Map<string, string[]>();
      const signals = new PrometheusSignals({
        query: async (q, ...rest) => {
          queries.push(q);
          const samples = await client.query(q, ...rest);
          answered.set(q, samples.map((s) => `${s.labels.namespace}/${s.labels.workload}`).sort());
          return samples;
        },
      });
      const [plans, ready] = await Promise.all([
        Promise.all([workload('shop', 'checkout.v2'), workload('web', 'site'), workload('shop', 'checkout-v2'), workload('web', 'checkout.v2')].map((w) => signals.plan(w))),
        Promise.all([workload('web', 'site'), workload('shop', 'checkout.v2')].map((w) => signals.shadowReady(w))),
      ]);
      expect(plans).toEqual([{ desiredReplicas: 9, shadowPoolSize: 2 }, { desiredReplicas: 5, shadowPoolSize: 4 }, undefined, undefined]);
      expect(ready).toEqual([true, false]);
      expect(queries).toHaveLength(3);
      // Prometheus answered for the workloads asked, not for checkoutXv2 (the dot is not a wildcard).
      expect(answered.get(queries.find((q) => q.includes('shadowscale_forecast_desired_replicas'))!)).toEqual(['shop/checkout.v2', 'web/site']);
      expect(await signals.riseExpected('shop', 'checkoutXv2', 2)).toBe(true);

      // The fleet read: by namespace, every adapter replica collapsed, the absent kept as absent.
      const before = queries.length;
      const refreshed = new PrometheusSignals({ query: (q, ...rest) => (queries.push(q), client.query(q, ...rest)) });
      await new Promise<void>((resolve, reject) => refreshed.startRefresh([withShadow('shop', 'checkout.v2'), withShadow('web', 'site'), withShadow('shop', 'checkout-v2')], { refreshMs: 60_000, onSuccess: resolve, onError: reject }));
      refreshed.stopRefresh();
      expect(queries.length - before).toBe(3);
      expect(await Promise.all([withShadow('shop', 'checkout.v2'), withShadow('web', 'site'), withShadow('shop', 'checkout-v2')].map((w) => refreshed.plan(w)))).toEqual([{ desiredReplicas: 9, shadowPoolSize: 2 }, { desiredReplicas: 5, shadowPoolSize: 4 }, undefined]);
      expect(await refreshed.shadowReady(withShadow('web', 'site'))).toBe(true);
      expect(queries.length - before).toBe(3);
    } finally {
      await prometheus.stop();
    }
  });
});
