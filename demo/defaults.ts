/** The demo's defaults, apart from its code, so that `shadowscale --help` can show them without loading it. */
import { join } from 'node:path';

/** The trace the demo replays: two weeks of NASA's HTTP traffic per minute (test/fixtures, origin noted there). */
export const DEFAULT_TRACE = join(import.meta.dirname, '..', 'test', 'fixtures', 'nasa_http_1995-07-01_to_07-14_per_minute.csv');

export const DEFAULTS = {
  durationSeconds: 300,
  speed: 288,
  surge: 2.5,
  peakRps: 40,
  capacityRps: 10,
  startupSeconds: 4,
  report: 'demo-report.html',
} as const;
