/**
 * The load's history kept between refreshes (mergeHistory): typed arrays, the cached object itself
 * when a refresh's answer changes nothing, a new one when a sample was added, changed or aged out.
 */
import { describe, expect, it } from 'vitest';

import { mergeHistory } from './forecast-loop.ts';

const STEP = 300;
const series = (from: number, n: number, value: (i: number) => number) => ({
  timestamps: Array.from({ length: n }, (_, i) => from + i * STEP),
  values: Array.from({ length: n }, (_, i) => value(i)),
});

describe('the history kept between refreshes', () => {
  const start = 1_000_000;
  const first = mergeHistory(undefined, series(start - 2 * STEP, 12, (i) => i), start - 2 * STEP, start);

  it('keeps what the first answer brought from the window on, in typed arrays', () => {
    expect(first.timestamps).toBeInstanceOf(Float64Array);
    expect(Array.from(first.timestamps)).toEqual(series(start, 10, () => 0).timestamps);
    expect(Array.from(first.values)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('returns the cached history itself when the refetched overlap is what it holds', () => {
    const from = start + 5 * STEP;
    const overlap = series(from, 5, (i) => i + 7);
    expect(mergeHistory(first, overlap, from, start)).toBe(first);
    // NaN (a gap) compares equal to itself.
    const gap = mergeHistory(first, { timestamps: [from], values: [NaN] }, from, start);
    expect(mergeHistory(gap, { timestamps: [from], values: [NaN] }, from, start)).toBe(gap);
  });

  it('makes a new history when a late sample changed, one arrived, or the window moved on', () => {
    const from = start + 5 * STEP;
    const changed = mergeHistory(first, series(from, 5, (i) => (i === 2 ? 99 : i + 7)), from, start);
    expect(changed).not.toBe(first);
    expect(Array.from(changed.values)).toEqual([2, 3, 4, 5, 6, 7, 8, 99, 10, 11]);
    expect(Array.from(first.values)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

    const grown = mergeHistory(first, series(from, 6, (i) => i + 7), from, start);
    expect(Array.from(grown.values)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

    // The window starts two steps later: the two oldest samples drop, even with an unchanged overlap.
    const moved = mergeHistory(first, series(from, 5, (i) => i + 7), from, start + 2 * STEP);
    expect(Array.from(moved.timestamps)).toEqual(series(start + 2 * STEP, 8, () => 0).timestamps);
    expect(Array.from(moved.values)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);

    // An answer without the overlap's last samples (Prometheus lost them) shortens the history.
    const shorter = mergeHistory(first, series(from, 3, (i) => i + 7), from, start);
    expect(Array.from(shorter.values)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
