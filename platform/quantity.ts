/**
 * Kubernetes quantities both ways. To text, for the external metrics API: milli-precision rounded up
 * (as the apiserver rounds), canonical form (no fractional digits, the largest decimal suffix that
 * loses nothing): 1.5 → "1500m", 2000 → "2k", 0.25 → "250m", 0 → "0". From text: every form the
 * API accepts ("500m", "1.5", "256Mi", "1e3"), anything else a QuantityError naming the text.
 */
const SUFFIXES: Array<[string, bigint]> = [
  ['E', 10n ** 18n],
  ['P', 10n ** 15n],
  ['T', 10n ** 12n],
  ['G', 10n ** 9n],
  ['M', 10n ** 6n],
  ['k', 10n ** 3n],
];
const MAX_MILLI = 2n ** 63n - 1n;

export function toQuantity(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`cannot express ${value} as a Kubernetes quantity`);
  let milli = BigInt(Math.ceil(Number((value * 1000).toPrecision(15))));
  if (milli > MAX_MILLI) milli = MAX_MILLI;
  if (milli === 0n) return '0';
  const sign = milli < 0n ? '-' : '';
  const abs = milli < 0n ? -milli : milli;
  if (abs % 1000n !== 0n) return `${sign}${abs}m`;
  const units = abs / 1000n;
  for (const [suffix, size] of SUFFIXES) if (units % size === 0n) return `${sign}${units / size}${suffix}`;
  return `${sign}${units}`;
}

/** A text that is no Kubernetes quantity. */
export class QuantityError extends Error {}

export const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** Parses a Kubernetes quantity ("500m", "1.5", "256Mi", "1e3"). */
export function parseQuantity(text: string): number {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E)?)$/.exec(text.trim());
  if (!m) throw new QuantityError(`"${text}" is not a Kubernetes quantity`);
  const n = Number(m[1]);
  if (m[2]) return n * BINARY[m[2]];
  if (m[3]) return n * 10 ** Number(m[3].slice(1));
  return n * DECIMAL[m[4] ?? ''];
}
