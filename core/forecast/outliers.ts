/**
 * Cleans anomalous cycles out of the history before fitting, so that one bad day is not repeated into
 * tomorrow's forecast (the complaint of Crane's users). The history is cut into whole cycles of the
 * dominant period, aligned to the end; augurs' DBSCAN detector compares the cycles with each other and
 * flags the stretches where one cycle leaves the cluster of the others; those points are replaced by
 * the median of the other cycles at the same phase.
 */
import { outlier } from './augurs.ts';

/** How many robust standard deviations from the normal cycles count as part of an incident. */
const ROBUST_Z = 4;

export interface CleanOptions {
  /** DBSCAN sensitivity in (0, 1); higher flags more. 0.5 flagged a day scaled ×4 in two weeks of NASA
   *  HTTP traffic and nothing else; 0.8 also flagged an ordinary busy day. */
  sensitivity?: number;
  /** The most recent steps are never replaced, so a genuine change of level still reaches the model. */
  keepRecent?: number;
}

export interface CleanResult {
  values: Float64Array;
  replaced: number;
  cycles: number[];
}

export function cleanOutlierCycles(y: Float64Array, period: number, options: CleanOptions = {}): CleanResult {
  const cycleCount = Math.floor(y.length / period);
  // DBSCAN needs a cluster to compare against: at least three cycles.
  if (cycleCount < 3) return { values: y, replaced: 0, cycles: [] };
  const offset = y.length - cycleCount * period;
  const rows: Float64Array[] = [];
  for (let c = 0; c < cycleCount; c++) rows.push(y.subarray(offset + c * period, offset + (c + 1) * period));
  // Cycles are compared after a moving average over 1/48 of the cycle (30 min of a day): minute-level
  // noise otherwise breaks an incident into many short flagged stretches with holes between them.
  const smoothed = rows.map((row) => movingAverage(row, Math.max(1, Math.round(period / 48))));

  const detector = outlier().OutlierDetector.dbscan({ sensitivity: options.sensitivity ?? 0.5 });
  let result;
  try {
    result = detector.detect(smoothed);
  } finally {
    detector.free();
  }
  if (result.outlyingSeries.length === 0) return { values: y, replaced: 0, cycles: [] };

  const out = Float64Array.from(y);
  const outlying = new Set(result.outlyingSeries);
  const normal = rows.map((_, c) => c).filter((c) => !outlying.has(c));
  if (normal.length === 0) return { values: y, replaced: 0, cycles: [] };
  const protectedFrom = y.length - (options.keepRecent ?? 0);
  let replaced = 0;
  const phaseValues: number[] = [];
  const deviations: number[] = [];
  for (const c of result.outlyingSeries) {
    // DBSCAN says which cycle left the cluster and where it was furthest; within that cycle, replace
    // every phase that lies beyond `ROBUST_Z` robust deviations of the normal cycles at that phase,
    // plus the stretches DBSCAN flagged, so the whole incident goes and not only its peak.
    const flagged = new Uint8Array(period);
    for (const interval of result.seriesResults[c].outlierIntervals) {
      flagged.fill(1, interval.start, interval.end ?? period);
    }
    for (let phase = 0; phase < period; phase++) {
      const index = offset + c * period + phase;
      if (index >= protectedFrom) break;
      phaseValues.length = 0;
      for (const other of normal) phaseValues.push(smoothed[other][phase]);
      const centre = median(phaseValues);
      deviations.length = 0;
      for (const v of phaseValues) deviations.push(Math.abs(v - centre));
      const spread = 1.4826 * median(deviations);
      const far = Math.abs(smoothed[c][phase] - centre) > ROBUST_Z * Math.max(spread, 1e-9 + 0.05 * Math.abs(centre));
      if (!flagged[phase] && !far) continue;
      phaseValues.length = 0;
      for (const other of normal) phaseValues.push(rows[other][phase]);
      out[index] = median(phaseValues);
      replaced++;
    }
  }
  return { values: out, replaced, cycles: [...outlying] };
}

function movingAverage(row: Float64Array, width: number): Float64Array {
  if (width <= 1) return row;
  const out = new Float64Array(row.length);
  const half = Math.floor(width / 2);
  let sum = 0;
  let lo = 0;
  let hi = -1;
  for (let i = 0; i < row.length; i++) {
    const from = Math.max(0, i - half);
    const to = Math.min(row.length - 1, i + half);
    while (hi < to) sum += row[++hi];
    while (lo < from) sum -= row[lo++];
    out[i] = sum / (hi - lo + 1);
  }
  return out;
}

function median(a: number[]): number {
  a.sort((x, y) => x - y);
  const mid = a.length >> 1;
  return a.length % 2 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
}
