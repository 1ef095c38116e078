import { describe, expect, it } from 'vitest';
import { Counterfactual } from './counterfactual.ts';

describe('the dry-run counterfactual', () => {
  const spec = { capacityPerReplica: 10, lagSeconds: 120, minReplicas: 1, maxReplicas: 100 };

  it('charges the HPA asked to react for the surge it could not foresee, and the plan that saw it coming for its replicas', () => {
    const c = new Counterfactual(spec);
    // 100 req/s, then 300 from minute 20; the plan asks for 300 from minute 17.
    for (let t = 0; t <= 40 * 60; t += 15) {
      const load = t >= 20 * 60 ? 300 : 100;
      c.record(t, load, { hpa: load, shadowscale: t >= 17 * 60 ? 300 : 100 });
    }
    const totals = c.totals(40 * 60);
    expect(totals.seconds).toBe(40 * 60);
    expect(totals.load).toBe(100 * 20 * 60 + 300 * 20 * 60);
    // The reactive side sees the surge at minute 20 and its replicas are ready two minutes later:
    // 200 req/s unserved for the 120 s lag, and 100 for 15 s more: the HPA's default scale-up policy
    // (at most twice the replicas per 15 s) takes 10 replicas to 20, then 30.
    expect(totals.unserved.hpa).toBe(200 * 120 + 100 * 15);
    expect(totals.unserved.shadowscale).toBe(0);
    // The plan paid for 20 more replicas three minutes early (they count from when they are asked).
    expect(totals.replicaSeconds.shadowscale - totals.replicaSeconds.hpa).toBe(20 * 3 * 60);
  });

  it('keeps the last day only, and does not count a silence as time', () => {
    const c = new Counterfactual(spec);
    for (let t = 0; t <= 26 * 3600; t += 60) c.record(t, 50, { hpa: 50, shadowscale: 50 });
    const totals = c.totals(26 * 3600);
    expect(Math.abs(totals.seconds - 86_400)).toBeLessThanOrEqual(60);
    expect(totals.replicaSeconds.hpa).toBe(5 * totals.seconds);

    // Over a window of two days: an hour without observations, then one, is charged a minute.
    const long = new Counterfactual({ ...spec, windowSeconds: 2 * 86_400 });
    for (let t = 0; t <= 3600; t += 60) long.record(t, 50, { hpa: 50, shadowscale: 50 });
    long.record(2 * 3600, 50, { hpa: 50, shadowscale: 50 });
    expect(long.totals(2 * 3600).seconds).toBe(3600 + 60);
    // A load that is not one changes nothing.
    long.record(2 * 3600 + 60, NaN, { hpa: 50, shadowscale: 50 });
    expect(long.totals(2 * 3600 + 60).seconds).toBe(3600 + 60);
  });
});
