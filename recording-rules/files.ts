import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = dirname(fileURLToPath(import.meta.url));

/** Every rule file: the input mappings first, then the KPIs, forecast series and alerts. */
export function ruleFiles(): string[] {
  const list = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.rules.yml')).sort().map((f) => join(dir, f));
  return [...list(join(DIR, 'inputs')), ...list(DIR)];
}
