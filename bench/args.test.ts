import { describe, expect, it } from 'vitest';
import { arg } from './args.ts';

describe("a benchmark's options", () => {
  it('reads a value, an empty one included, and falls back when the option is absent', () => {
    expect(arg('--lags', '60s', ['node', 'b.ts', '--lags', '120s'])).toBe('120s');
    expect(arg('--bound-lags', '120s', ['node', 'b.ts', '--bound-lags', ''])).toBe('');
    expect(arg('--lags', '60s', ['node', 'b.ts'])).toBe('60s');
  });

  it('names an option given without a value', () => {
    expect(() => arg('--lags', '60s', ['node', 'b.ts', '--lags'])).toThrow('--lags needs a value (as in --lags 60s)');
    expect(() => arg('--only', '', ['node', 'b.ts', '--only', '--lags', '60s'])).toThrow('--only needs a value (as in --only VALUE)');
  });
});
