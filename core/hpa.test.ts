import { describe, expect, it } from 'vitest';
import { HpaController } from './hpa.ts';

const spec = { minReplicas: 1, maxReplicas: 100, targetAverageValue: 10 };

describe('HPA algorithm (AverageValue external metric, default behavior)', () => {
  it('keeps the replicas while the usage ratio is within the 0.1 tolerance', () => {
    const hpa = new HpaController(spec);
    // 10 replicas at 10 each = 100; 109 is a ratio of 1.09: no change. 111 is 1.11: ceil(11.1) = 12.
    expect(hpa.sync(0, 109, 10, 10)).toBe(10);
    expect(hpa.sync(15, 91, 10, 10)).toBe(10);
    expect(hpa.sync(30, 111, 10, 10)).toBe(12);
  });

  it('uses status replicas (pods that exist) for the ratio, and ceil(usage / target) outside it', () => {
    const hpa = new HpaController(spec);
    // spec 10 but only 5 pods exist: ratio 100 / (10 × 5) = 2 → ceil(100 / 10) = 10 (no change).
    expect(hpa.sync(0, 100, 10, 5)).toBe(10);
    expect(hpa.sync(15, 100, 8, 8)).toBe(10);
  });

  it('limits scale-up to max(+4 pods, +100 %) per 15 s', () => {
    const hpa = new HpaController(spec);
    // From 2, wanting 50: max(2 + 4, 2 × 2) = 6; then from 6: max(10, 12) = 12; then 24, 48; and at
    // 48 the ratio 500 / 480 = 1.04 is within tolerance, so it stays there, short of 50.
    const steps = [];
    let replicas = 2;
    for (let t = 0; t < 75; t += 15) {
      replicas = hpa.sync(t, 500, replicas, replicas);
      steps.push(replicas);
    }
    expect(steps).toEqual([6, 12, 24, 48, 48]);
  });

  it('counts additions within the policy period: a second sync 5 s later adds nothing more', () => {
    const hpa = new HpaController(spec);
    expect(hpa.sync(0, 500, 2, 2)).toBe(6);
    expect(hpa.sync(5, 500, 6, 6)).toBe(6);
    expect(hpa.sync(15, 500, 6, 6)).toBe(12);
  });

  it('holds the highest recommendation of the last 300 s before scaling down', () => {
    const hpa = new HpaController(spec);
    expect(hpa.sync(0, 200, 20, 20)).toBe(20);
    // Load halves at 15 s: the 20 recommended at 0 s holds until it leaves the window at 300 s.
    let replicas = 20;
    const at: Record<number, number> = {};
    for (let t = 15; t <= 330; t += 15) {
      replicas = hpa.sync(t, 100, replicas, replicas);
      at[t] = replicas;
    }
    expect(at[15]).toBe(20);
    expect(at[285]).toBe(20);
    expect(at[300]).toBe(10);
    expect(at[330]).toBe(10);
  });

  it('respects minReplicas and maxReplicas', () => {
    const hpa = new HpaController({ ...spec, minReplicas: 3, maxReplicas: 8 });
    expect(hpa.sync(0, 1000, 4, 4)).toBe(8);
    const down = new HpaController({ ...spec, minReplicas: 3, maxReplicas: 8, scaleDownStabilizationSeconds: 0 });
    expect(down.sync(0, 1, 8, 8)).toBe(3);
  });

  it('does not autoscale a target scaled to zero', () => {
    expect(new HpaController(spec).sync(0, 1000, 0, 0)).toBe(0);
  });
});
