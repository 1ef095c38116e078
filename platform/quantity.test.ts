import { describe, expect, it } from 'vitest';
import { toQuantity } from './quantity.ts';

describe('toQuantity', () => {
  it.each([
    [1.5, '1500m'],
    [2000, '2k'],
    [0.25, '250m'],
    [0, '0'],
    [1, '1'],
    [1234, '1234'],
    [3_000_000, '3M'],
    [0.0001, '1m'], // below a milli rounds up, as the apiserver does
    [12.3456, '12346m'],
    [0.1 + 0.2, '300m'], // floating-point dust does not round 300m up to 301m
  ])('%s → %s', (value, expected) => {
    expect(toQuantity(value)).toBe(expected);
  });

  it('refuses NaN and infinities, which are not quantities', () => {
    expect(() => toQuantity(NaN)).toThrow(RangeError);
    expect(() => toQuantity(Infinity)).toThrow(RangeError);
  });
});
