import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSeriesCsv } from '../../core/series/csv.ts';
import type { Series } from '../../core/forecast/types.ts';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

export function loadFixture(name: string): Series {
  return parseSeriesCsv(readFileSync(fixturePath(name), 'utf8'), name);
}

export const NASA_TWO_WEEKS = 'nasa_http_1995-07-01_to_07-14_per_minute.csv';
