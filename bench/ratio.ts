/**
 * The comparison the scaling benchmarks report: a policy's unserved load ÷ the reactive HPA's at the
 * same replica-seconds, and the median of it over traces.
 */

/**
 * unserved ÷ the HPA's at equal cost. Where that HPA leaves nothing unserved, the policy loses outright
 * if it leaves anything (Infinity: counted above any bound and in the median), and the trace says
 * nothing when neither does (NaN: left out).
 */
export function ratioToHpa(unserved: number, hpaAtEqualCost: number): number {
  if (hpaAtEqualCost > 0) return unserved / hpaAtEqualCost;
  return unserved > 0 ? Infinity : NaN;
}

/** The median of the values that are numbers (NaN left out; Infinity kept, as the largest). */
export function median(xs: number[]): number {
  const a = xs.filter((x) => !Number.isNaN(x)).sort((x, y) => x - y);
  if (a.length === 0) return NaN;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}
