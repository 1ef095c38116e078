/**
 * A benchmark's `--name value` option from the command line, or its default. An option given without
 * a value (last, or followed by another option) is an error that names it, rather than an undefined
 * that fails later somewhere else. An empty value (`--name ''`) is a value.
 */
export function arg(name: string, fallback: string, argv: readonly string[] = process.argv): string {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value (as in ${name} ${fallback || 'VALUE'})`);
  return value;
}
