/**
 * Kubernetes `resource.Quantity` strings for the external metrics API: milli-precision rounded up
 * (as the apiserver rounds), canonical form (no fractional digits, the largest decimal suffix that
 * loses nothing): 1.5 → "1500m", 2000 → "2k", 0.25 → "250m", 0 → "0".
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
