import { describe, expect, it } from 'vitest';
import { matches, parseSelector, SelectorError } from './selector.ts';

const checkout = { workload: 'checkout', namespace: 'shop' };

describe('parseSelector', () => {
  it.each([
    ['', true],
    ['workload=checkout', true],
    ['workload==checkout', true],
    ['workload!=checkout', false],
    ['workload in (checkout,cart)', true],
    ['workload in (cart, search)', false],
    ['workload notin (cart)', true],
    ['workload', true],
    ['!workload', false],
    ['!tier', true],
    ['workload=checkout,namespace=shop', true],
    ['workload=checkout,namespace=other', false],
    ['workload in (checkout),!tier,namespace', true],
  ])('"%s" matches checkout: %s', (selector, expected) => {
    expect(matches(parseSelector(selector), checkout)).toBe(expected);
  });

  it.each([
    ['workload=check out', /is not a label requirement/],
    ['workload in (a', /unbalanced "\("/],
    ['workload)', /unbalanced "\)"/],
    ['workload=a,,namespace=b', /empty requirement/],
    ['-bad=x', /"-bad" is not a valid label key/],
    ['workload=-x', /"-x" is not a valid label value/],
    ['workload>3', /is not a label requirement/],
  ])('rejects "%s" with a message naming the requirement', (selector, message) => {
    expect(() => parseSelector(selector)).toThrow(SelectorError);
    expect(() => parseSelector(selector)).toThrow(message);
  });
});
