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

/** The stabilization and rate limits written as plainly as the controller's code reads, to check the fast windows against. */
function referenceSync(spec: { up: number; down: number; period: number; min: number; max: number; target: number }) {
  const recs: Array<{ at: number; replicas: number }> = [];
  const ups: Array<{ at: number; change: number }> = [];
  const downs: Array<{ at: number; change: number }> = [];
  return (now: number, usage: number, specReplicas: number, statusReplicas: number): number => {
    const ratio = usage / (spec.target * statusReplicas);
    const proposal = Math.abs(1 - ratio) <= 0.1 ? specReplicas : Math.ceil(usage / spec.target - 1e-9);
    let up = proposal;
    let down = proposal;
    for (const r of recs) {
      if (r.at > now - spec.up) up = Math.min(up, r.replicas);
      if (r.at > now - spec.down) down = Math.max(down, r.replicas);
    }
    const stabilized = Math.min(Math.max(specReplicas, up), down);
    recs.push({ at: now, replicas: proposal });
    const inPeriod = (es: Array<{ at: number; change: number }>) => es.filter((e) => e.at > now - spec.period).reduce((n, e) => n + e.change, 0);
    const periodStart = specReplicas - inPeriod(ups) + inPeriod(downs);
    let desired = stabilized;
    if (desired > specReplicas) desired = Math.min(desired, Math.max(specReplicas, Math.max(periodStart + 4, Math.ceil(periodStart * 2))), spec.max);
    else if (desired < specReplicas) desired = Math.max(desired, Math.min(specReplicas, Math.floor(periodStart * 0)), spec.min);
    desired = Math.min(spec.max, Math.max(spec.min, desired));
    if (desired > specReplicas) ups.push({ at: now, change: desired - specReplicas });
    if (desired < specReplicas) downs.push({ at: now, change: specReplicas - desired });
    return desired;
  };
}

describe('HPA stabilization windows', () => {
  it('decide as a plain scan of every recommendation would, over long random runs and several windows', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (const [up, down, period] of [[0, 300, 15], [60, 300, 15], [120, 30, 60], [0, 0, 15]]) {
      const spec = { up, down, period, min: 1, max: 60, target: 10 };
      const fast = new HpaController({ minReplicas: 1, maxReplicas: 60, targetAverageValue: 10, scaleUpStabilizationSeconds: up, scaleDownStabilizationSeconds: down, periodSeconds: period });
      const plain = referenceSync(spec);
      let replicas = 5;
      let load = 50;
      for (let k = 0; k < 5000; k++) {
        const now = k * 15 + (k % 3);
        load = Math.max(0, load + (random() - 0.5) * 40);
        const a = fast.sync(now, load, replicas, replicas);
        const b = plain(now, load, replicas, replicas);
        expect(a, `sync ${k} (windows ${up}/${down}/${period})`).toBe(b);
        replicas = a;
      }
    }
  });
});

describe('HPA configurable tolerance (behavior.scaleUp.tolerance)', () => {
  it('scales up past a 5 % rise with a scale-up tolerance of 0, and keeps 0.1 below', () => {
    const strict = new HpaController({ ...spec, scaleUpTolerance: 0 });
    const usual = new HpaController(spec);
    // 20 pods at target 10: usage 210 is a ratio of 1.05.
    expect(usual.sync(0, 210, 20, 20)).toBe(20);
    expect(strict.sync(0, 210, 20, 20)).toBe(21);
    // A ratio of 0.95 stays within the scale-down tolerance of both.
    expect(new HpaController({ ...spec, scaleUpTolerance: 0 }).sync(0, 190, 20, 20)).toBe(20);
  });
});
