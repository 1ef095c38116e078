import { describe, expect, it } from 'vitest';
import { parseSeriesCsv } from './csv.ts';

describe('parseSeriesCsv', () => {
  it('reads the three timestamp forms', () => {
    const s = parseSeriesCsv('timestamp,value\n1995-07-01 00:00:01,5\n1995-07-01T00:01:01Z,6\n804556921,7\n');
    expect(s.timestamps).toEqual([804556801, 804556861, 804556921]);
    expect(s.values).toEqual([5, 6, 7]);
  });

  it('keeps NaN and Inf as Prometheus writes them', () => {
    const s = parseSeriesCsv('timestamp,value\n1,NaN\n2,+Inf\n3,-Inf\n');
    expect(s.values).toEqual([NaN, Infinity, -Infinity]);
  });

  it('accepts the columns in any order', () => {
    expect(parseSeriesCsv('value,timestamp\n3,10\n').timestamps).toEqual([10]);
  });

  it('names the file and the problem for a bad header', () => {
    expect(() => parseSeriesCsv('time,val\n1,2\n', 'load.csv')).toThrow('load.csv: header is "time,val"; expected columns `timestamp` and `value`');
  });

  it('names the line of a bad value and of a bad timestamp', () => {
    expect(() => parseSeriesCsv('timestamp,value\n1,2\n2,abc\n', 'x.csv')).toThrow('x.csv: line 3: value "abc" is not a number');
    expect(() => parseSeriesCsv('timestamp,value\nyesterday,2\n', 'x.csv')).toThrow('x.csv: line 2: timestamp "yesterday"');
  });

  it('refuses an empty file and a header without rows', () => {
    expect(() => parseSeriesCsv('', 'e.csv')).toThrow('e.csv: file is empty');
    expect(() => parseSeriesCsv('timestamp,value\n', 'e.csv')).toThrow('e.csv: has a header but no data rows');
  });
});
