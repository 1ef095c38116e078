/**
 * Reads a load series from CSV text with a `timestamp,value` header, the format of the real traces in
 * shared/data. Timestamps may be unix seconds, ISO-8601, or `YYYY-MM-DD HH:MM:SS` (read as UTC: the
 * files carry no zone, and only the spacing matters to a forecast).
 */
import { parse } from 'csv-parse/sync';
import type { Series } from '../forecast/types.ts';

export class CsvSeriesError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = 'CsvSeriesError';
  }
}

export function parseSeriesCsv(text: string, source = 'input'): Series {
  let rows: string[][];
  try {
    rows = parse(text, { skip_empty_lines: true, trim: true, relax_column_count: true });
  } catch (error) {
    throw new CsvSeriesError(source, `not valid CSV (${(error as Error).message})`);
  }
  if (rows.length === 0) throw new CsvSeriesError(source, 'file is empty; expected a header `timestamp,value`');
  const header = rows[0].map((h) => h.toLowerCase());
  const timeColumn = header.indexOf('timestamp');
  const valueColumn = header.indexOf('value');
  if (timeColumn < 0 || valueColumn < 0) {
    throw new CsvSeriesError(source, `header is "${rows[0].join(',')}"; expected columns \`timestamp\` and \`value\``);
  }
  const timestamps: number[] = [];
  const values: number[] = [];
  for (let i = 1; i < rows.length; i++) {
    const line = i + 1;
    const row = rows[i];
    const rawTime = row[timeColumn];
    const rawValue = row[valueColumn];
    if (rawTime === undefined || rawValue === undefined) {
      throw new CsvSeriesError(source, `line ${line} has ${row.length} columns; expected at least ${Math.max(timeColumn, valueColumn) + 1}`);
    }
    const t = parseTimestamp(rawTime);
    if (t === undefined) {
      throw new CsvSeriesError(source, `line ${line}: timestamp "${rawTime}" is not unix seconds, ISO-8601 or YYYY-MM-DD HH:MM:SS`);
    }
    const v = parseValue(rawValue);
    if (v === undefined) throw new CsvSeriesError(source, `line ${line}: value "${rawValue}" is not a number`);
    timestamps.push(t);
    values.push(v);
  }
  if (timestamps.length === 0) throw new CsvSeriesError(source, 'has a header but no data rows');
  return { timestamps, values };
}

function parseTimestamp(raw: string): number | undefined {
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(:\d{2}(\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$/.exec(raw);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${m[5] ?? 'Z'}`);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

/** Prometheus writes NaN and ±Inf as text; keep them so preparation can count and drop them. */
function parseValue(raw: string): number | undefined {
  const lower = raw.toLowerCase();
  if (lower === 'nan') return NaN;
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (raw === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) return undefined;
  return Number(raw);
}
