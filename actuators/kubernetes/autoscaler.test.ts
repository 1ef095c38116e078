import { describe, expect, it } from 'vitest';
import { hpaBlocks, scaledObjectBlocks } from './autoscaler.ts';

const SETS = ['checkout', 'checkout-shadow'];
const external = (name: string, matchLabels: Record<string, string>) => ({ type: 'External', external: { metric: { name, selector: { matchLabels } }, target: { type: 'AverageValue', averageValue: '100' } } });

describe('autoscaler hygiene', () => {
  it('accepts metrics measured on whatever the autoscaler scales, and shadowscale’s own', () => {
    const spec = { metrics: [{ type: 'Resource', resource: { name: 'cpu' } }, { type: 'Pods', pods: { metric: { name: 'rps' } } }, external('shadowscale_desired_replicas', { workload: 'checkout' }), external('queue_depth', { queue: 'orders' })] };
    expect(hpaBlocks('HPA shop/checkout', { spec }, SETS)).toBeUndefined();
  });

  it('refuses to retarget an HPA whose External or Object metric is tied to one set', () => {
    expect(hpaBlocks('HPA shop/checkout', { spec: { metrics: [external('http_requests', { deployment: 'checkout' })] } }, SETS)?.retarget).toBe(
      'HPA shop/checkout: spec.metrics[0] (External http_requests) selects checkout; after a swap it would still measure checkout, not the set that serves. Use Resource or Pods metrics, or shadowscale\'s (shadowscale_desired_replicas)',
    );
    const object = { type: 'Object', object: { describedObject: { kind: 'Deployment', name: 'checkout-shadow' }, metric: { name: 'rps' } } };
    expect(hpaBlocks('HPA shop/checkout', { spec: { metrics: [object] } }, SETS)?.retarget).toMatch(/spec\.metrics\[0\] \(Object rps of Deployment checkout-shadow\)/);
    // A name that only starts like a set's is another object.
    expect(hpaBlocks('HPA shop/checkout', { spec: { metrics: [external('http_requests', { deployment: 'checkout-v2' })] } }, SETS)).toBeUndefined();
  });

  it('refuses every write to an HPA that KEDA owns, and points to the ScaledObject', () => {
    const owned = { metadata: { ownerReferences: [{ kind: 'ScaledObject', name: 'checkout-so' }] }, spec: {} };
    expect(hpaBlocks('HPA shop/keda-hpa-checkout-so', owned, SETS)?.writes).toBe(
      'HPA shop/keda-hpa-checkout-so is owned by ScaledObject checkout-so, and KEDA reverts every change to it: configure autoscaler: { kind: ScaledObject, name: checkout-so }',
    );
  });

  it('refuses to retarget a ScaledObject whose trigger names a set; cpu, memory and shadowscale’s own are fine', () => {
    const so = (triggers: unknown[]) => ({ spec: { triggers } }) as Parameters<typeof scaledObjectBlocks>[1];
    const ours = { type: 'external', metadata: { scalerAddress: 'shadowscale-adapter.shadowscale:9100', workload: 'checkout', namespace: 'shop' } };
    expect(scaledObjectBlocks('ScaledObject shop/checkout', so([{ type: 'cpu', metadata: { value: '60' } }, ours]), SETS)).toBeUndefined();
    expect(scaledObjectBlocks('ScaledObject shop/checkout', so([ours, { type: 'external', metadata: { scalerAddress: 'other-scaler:9000', deployment: 'checkout' } }]), SETS)?.retarget).toMatch(
      /spec\.triggers\[1\] \(external\) metadata\.deployment names checkout/,
    );
    expect(scaledObjectBlocks('ScaledObject shop/checkout', so([{ type: 'prometheus', metadata: { query: 'sum(rate(http_requests_total{deployment="checkout"}[2m]))' } }]), SETS)?.retarget).toMatch(/metadata\.query names checkout/);
    expect(scaledObjectBlocks('ScaledObject shop/checkout', so([{ type: 'cpu', metadata: { value: '60' } }, { type: 'prometheus', metadata: { query: 'sum(shadowscale:load:rate1m{workload="cart"})' } }]), SETS)).toBeUndefined();
  });

  it('refuses to retarget onto smaller shadow pods an autoscaler that counts the load per primary-size pod', () => {
    const hpa = { spec: { metrics: [external('shadowscale_predicted_load', { workload: 'checkout' })] } };
    expect(hpaBlocks('HPA shop/checkout', hpa, SETS)).toBeUndefined();
    expect(hpaBlocks('HPA shop/checkout', hpa, SETS, 0.5)?.retarget).toBe(
      "HPA shop/checkout: spec.metrics[0] (External shadowscale_predicted_load) counts the load per pod of the primary's size; after a swap onto shadow pods at resourceFraction 0.5 it would run 0.5 of the capacity the load needs. Use shadowscale_desired_replicas with an AverageValue target of 1: it is served in pods of the set that serves",
    );
    expect(hpaBlocks('HPA shop/checkout', { spec: { metrics: [external('shadowscale_desired_replicas', { workload: 'checkout' })] } }, SETS, 0.5)).toBeUndefined();
    const so = (triggers: unknown[]) => ({ spec: { triggers } }) as Parameters<typeof scaledObjectBlocks>[1];
    const scaler = { scalerAddress: 'shadowscale-adapter.shadowscale:9100', workload: 'checkout' };
    expect(scaledObjectBlocks('ScaledObject shop/checkout', so([{ type: 'external', metadata: scaler }]), SETS, 0.5)?.retarget).toMatch(/spec\.triggers\[0\] \(external, metric shadowscale_predicted_load\) counts the load per pod/);
    expect(scaledObjectBlocks('ScaledObject shop/checkout', so([{ type: 'metrics-api', metadata: { url: 'http://shadowscale-adapter:8080/keda/metrics?workload=checkout', valueLocation: 'predictedLoad' } }]), SETS, 0.5)?.retarget).toMatch(/valueLocation predictedLoad/);
    expect(scaledObjectBlocks('ScaledObject shop/checkout', so([{ type: 'external', metadata: { ...scaler, metric: 'shadowscale_desired_replicas' } }]), SETS, 0.5)).toBeUndefined();
  });
});
