/**
 * OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`: the fast way to give a test
 * Prometheus weeks of history (a week of one-minute samples loads in a fraction of a second).
 */
export interface HistorySeries {
  name: string;
  labels?: Record<string, string>;
  /** Unix seconds. */
  timestamps: ArrayLike<number>;
  values: ArrayLike<number>;
  type?: 'gauge' | 'counter' | 'unknown';
}

export function toOpenMetrics(series: readonly HistorySeries[]): string {
  const parts: string[] = [];
  const typed = new Set<string>();
  // OpenMetrics wants all samples of a metric family together, families declared once.
  const byName = [...series].sort((a, b) => a.name.localeCompare(b.name));
  for (const s of byName) {
    if (!typed.has(s.name)) {
      parts.push(`# TYPE ${s.name} ${s.type ?? 'gauge'}`);
      typed.add(s.name);
    }
    const labels = Object.entries(s.labels ?? {})
      .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
      .join(',');
    const prefix = labels ? `${s.name}{${labels}}` : s.name;
    const sample = s.type === 'counter' ? `${s.name}_total${labels ? `{${labels}}` : ''}` : prefix;
    for (let i = 0; i < s.timestamps.length; i++) {
      const v = s.values[i];
      const text = Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
      parts.push(`${sample} ${text} ${s.timestamps[i]}`);
    }
  }
  parts.push('# EOF', '');
  return parts.join('\n');
}

/**
 * Shifts a historical trace so that its last sample lies `endBeforeNowSeconds` before now, keeping
 * the spacing: Prometheus drops backfilled data that falls outside its retention.
 */
export function shiftToNow(timestamps: ArrayLike<number>, endBeforeNowSeconds = 60, nowSeconds = Date.now() / 1000): number[] {
  const last = timestamps[timestamps.length - 1];
  const step = timestamps.length > 1 ? timestamps[1] - timestamps[0] : 60;
  // Align the end to the step, so query_range steps can land exactly on samples.
  const end = Math.floor((nowSeconds - endBeforeNowSeconds) / step) * step;
  return Array.from(timestamps, (t) => t - last + end);
}
