import { describe, expect, it } from 'vitest';

import { parseConfig } from '../core/config.ts';
import { fromHpa } from './whatif-autoscaler.ts';

const w = parseConfig(`
prometheus: { url: http://127.0.0.1:9 }
workloads:
  - name: web
    namespace: shop
    capacityPerReplica: 50
    primary: { name: web, minReplicas: 3, maxReplicas: 30 }
`).workloads[0];

const hpa = (spec: Record<string, unknown>) => ({ metadata: { name: 'web', namespace: 'shop' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 40, ...spec } }) as never;

describe('the HPA whatif replays', () => {
  it('reads an AverageValue target in the load\'s unit and a Utilization target as a share of capacity', () => {
    expect(fromHpa(hpa({ minReplicas: 2, metrics: [{ type: 'External', external: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '40' } } }] }), w, 0.8)).toEqual({
      source: "HorizontalPodAutoscaler shop/web (target from its External metric's averageValue 40 ÷ capacityPerReplica 50)",
      minReplicas: 2,
      maxReplicas: 40,
      targetUtilization: 0.8,
    });
    expect(fromHpa(hpa({ metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 65 } } }] }), w, 0.8)).toMatchObject({ minReplicas: 1, targetUtilization: 0.65 });
  });

  it('falls back to the flag on a target it cannot read as a share of capacity, and says so', () => {
    const r = fromHpa(hpa({ metrics: [{ type: 'External', external: { metric: { name: 'queue' }, target: { type: 'Value', value: '100' } } }] }), w, 0.7);
    expect(r).toMatchObject({ targetUtilization: 0.7, source: 'HorizontalPodAutoscaler shop/web (no AverageValue or Utilization target within capacity: --target-utilization 0.7)' });
    // 80 per pod against a capacity of 50 would run every replica past what it serves.
    expect(fromHpa(hpa({ metrics: [{ type: 'Pods', pods: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '80' } } }] }), w, 0.7).targetUtilization).toBe(0.7);
  });

  it("replays the HPA's scale-up tolerance when its behavior sets one", () => {
    const metrics = [{ type: 'External', external: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '40' } } }];
    expect(fromHpa(hpa({ metrics, behavior: { scaleUp: { tolerance: '50m' } } } as never), w, 0.8).scaleUpTolerance).toBeCloseTo(0.05, 9);
    expect(fromHpa(hpa({ metrics }), w, 0.8).scaleUpTolerance).toBeUndefined();
  });
});
