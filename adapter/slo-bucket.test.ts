import { describe, expect, it } from 'vitest';
import { bucketEdgesQuery, sloBucket } from './slo-bucket.ts';
import { promqlSyntaxError } from '../core/promql.ts';

describe('sloBucket', () => {
  it('finds the edge however the client spells it', () => {
    expect(sloBucket([{ le: '0.25' }, { le: '0.5' }, { le: '+Inf' }], 0.5)).toBe('0.5');
    expect(sloBucket([{ le: '0.25' }, { le: '1.0' }, { le: '+Inf' }], 1)).toBe('1.0');
    expect(sloBucket([{ le: '2.5e-01' }], 0.25)).toBe('2.5e-01');
  });

  it('reads milliseconds where the mapping says so', () => {
    expect(sloBucket([{ le: '250', leUnit: 'ms' }, { le: '500', leUnit: 'ms' }], 0.5)).toBe('500');
    expect(sloBucket([{ le: '500' }], 0.5)).toBeUndefined();
  });

  it('is undefined when the SLO is not an edge', () => {
    expect(sloBucket([{ le: '0.25' }, { le: '0.5' }, { le: '+Inf' }], 0.3)).toBeUndefined();
    expect(sloBucket([], 0.5)).toBeUndefined();
  });
});

describe('bucketEdgesQuery', () => {
  it('is valid PromQL that names the Deployments exactly', () => {
    const q = bucketEdgesQuery('shop', ['checkout', 'checkout.v2-shadow']);
    expect(promqlSyntaxError(q)).toBeUndefined();
    expect(q).toContain('deployment=~"checkout|checkout\\\\.v2-shadow"');
  });
});
