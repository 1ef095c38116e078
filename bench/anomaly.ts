/**
 * `npm run bench:anomaly`: measures the anomaly rules, as they are written, in a real Prometheus over
 * the real traces of ../shared/data: how often they would pre-scale on stretches the NAB labels call
 * normal, and how soon they fire inside the labelled anomaly windows. It compares the rules of
 * recording-rules/forecast.rules.yml and alerts.rules.yml with the detector they replaced
 * (bench/anomaly-before.rules.yml: a z-score against the same time on each of the previous 7 days).
 *
 * Each trace is backfilled as the served load (`shadowscale:load:rate5m`) with the default bounds; the
 * recording rules are evaluated over the whole trace with query_range at the trace's spacing and
 * backfilled in turn, one pass per level of dependency (Prometheus restarted between passes to read
 * the new blocks); the
 * alert's expression is then read with query_range at the trace's own spacing and held for the alert's
 * `for` as Prometheus would. There is no forecast in this bench: the weekly baseline is what a workload
 * without a forecast gets (with one, the forecast band decides).
 *
 * A benchmark: it reports, it asserts nothing. Options: --only SUBSTRING.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Table from 'cli-table3';
import { parse } from 'yaml';

import { parseSampleValue } from '../platform/prometheus.ts';
import { parseSeriesCsv } from '../core/series/csv.ts';
import { toOpenMetrics, type HistorySeries } from '../platform/runtime/openmetrics.ts';
import { queryRange, startPrometheus, type RangeSeries } from '../platform/runtime/prometheus.ts';
import { LOAD_SERIES, ZERO_IS_MISSING } from './traces.ts';

const exec = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(ROOT, '..', 'shared', 'data');
const LOAD = 'shadowscale:load:rate5m';
const INPUTS = new Set([LOAD, 'shadowscale:bound:min_request_rate', 'shadowscale:bound:anomaly_zscore']);

interface Rule { record?: string; alert?: string; expr: string; for?: string; labels?: Record<string, string> }
interface Detector { name: string; score: string; records: Rule[]; alert: Rule }

function rulesOf(file: string): Rule[] {
  const doc = parse(readFileSync(file, 'utf8')) as { groups: Array<{ rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

/** The recording rules an alert needs, from the served load up, as they are in the files. */
function detector(name: string, score: string, recordFiles: string[], alertFile: string, reason: string): Detector {
  const all = recordFiles.flatMap(rulesOf).filter((r) => r.record);
  const alert = rulesOf(alertFile).find((r) => r.alert === 'ShadowscaleLoadAnomaly' && r.labels?.reason === reason);
  if (!alert) throw new Error(`${alertFile}: no ShadowscaleLoadAnomaly with reason ${reason}`);
  const needed = new Map<string, Rule>();
  const visit = (expr: string) => {
    for (const r of all) {
      if (!needed.has(r.record!) && !INPUTS.has(r.record!) && new RegExp(`${r.record!.replace(/[:.]/g, '\\$&')}(?![\\w:])`).test(expr)) {
        needed.set(r.record!, r);
        visit(r.expr);
      }
    }
  };
  visit(alert.expr);
  if (!needed.has(score)) throw new Error(`${alertFile}: the ${reason} alert does not read ${score}`);
  return { name, score, records: [...needed.values()], alert };
}

/** Recording rules by level: a rule reads only inputs and rules of lower levels. */
function levels(records: Rule[]): Rule[][] {
  const level = new Map<string, number>();
  const of = (r: Rule): number => {
    if (level.has(r.record!)) return level.get(r.record!)!;
    const deps = records.filter((d) => d !== r && new RegExp(`${d.record!.replace(/[:.]/g, '\\$&')}(?![\\w:])`).test(r.expr));
    const l = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(of));
    level.set(r.record!, l);
    return l;
  };
  const out: Rule[][] = [];
  for (const r of records) (out[of(r)] ??= []).push(r);
  return out;
}

function forSeconds(d: string | undefined): number {
  if (!d) return 0;
  const m = /^(\d+)([smh])$/.exec(d);
  if (!m) throw new Error(`unsupported for: ${d}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}

interface Result {
  detector: string;
  /** Days on which this detector has a score (enough history to judge). */
  evaluatedDays: number;
  /** Below: only where every detector has a score, so that they are compared on the same stretches. */
  quietDays: number;
  falseOnsets: number;
  windows: Array<{ start: number; end: number; judged: boolean; delaySeconds: number | null }>;
  /** Windows a detector firing at random at its own quiet-day rate would hit (sum of 1 − e^(−rate × length)). */
  chanceDetections: number;
}

async function measure(path: string, detectors: Detector[], labels: Array<[string, string]>): Promise<{ step: number; results: Result[]; days: number }> {
  const raw = parseSeriesCsv(readFileSync(join(DATA, path), 'utf8'), path);
  const step = raw.timestamps[1] - raw.timestamps[0];
  // The trace, on a regular grid, ending two hours ago (Prometheus drops what is past its retention).
  const n = Math.round((raw.timestamps[raw.timestamps.length - 1] - raw.timestamps[0]) / step) + 1;
  const shift = Math.floor(Date.now() / 1000 / step) * step - 2 * 3600 - raw.timestamps[raw.timestamps.length - 1];
  const timestamps: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < raw.timestamps.length; i++) {
    const v = raw.values[i];
    if (ZERO_IS_MISSING.has(path) && v === 0) continue;
    timestamps.push(raw.timestamps[i] + shift);
    // In the trace's own unit (per minute, per bucket, percent): the rules are scale-free but for the
    // absolute floor (min_request_rate, 1 by default), which then reads as 1 of that unit.
    values.push(v);
  }
  const start = timestamps[0];
  const end = timestamps[timestamps.length - 1];
  const w = { namespace: 'bench', workload: 'trace' };
  const bound = (b: string, v: number) => ({ name: `shadowscale:bound:${b}`, labels: w, timestamps, values: timestamps.map(() => v) });

  const dir = mkdtempSync(join(tmpdir(), 'shadowscale-bench-anomaly-'));
  const dataDir = join(dir, 'data');
  try {
    const om = join(dir, 'history.om');
    writeFileSync(om, toOpenMetrics([{ name: LOAD, labels: w, timestamps, values }, bound('min_request_rate', 1), bound('anomaly_zscore', 3)]));
    await exec('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--max-block-duration=168h', om, dataDir], { maxBuffer: 64 << 20 });

    const passes: Rule[][] = [];
    for (const d of detectors) levels(d.records).forEach((rules, i) => (passes[i] ??= []).push(...rules));
    for (const [i, rules] of passes.entries()) {
      // What `promtool tsdb create-blocks-from rules` does (each rule read with query_range at the
      // evaluation interval), written as week-long blocks: its own two-hour blocks would be thousands
      // for a trace of months.
      const prom = await startPrometheus({ dataDir, retention: '10000d' });
      const recorded: HistorySeries[] = [];
      try {
        for (const r of rules) {
          for (const series of await rangeSeries(prom.url, r.expr, start, end, step)) {
            const { __name__: _drop, ...labels } = series.metric;
            recorded.push({ name: r.record!, labels, timestamps: series.values.map(([t]) => t), values: series.values.map(([, v]) => parseSampleValue(v)) });
          }
        }
      } finally {
        await prom.stop();
      }
      const file = join(dir, `pass-${i}.om`);
      writeFileSync(file, toOpenMetrics(recorded));
      await exec('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--max-block-duration=168h', file, dataDir], { maxBuffer: 64 << 20 });
    }

    const prom = await startPrometheus({ dataDir, retention: '10000d' });
    try {
      const runs: Array<{ d: Detector; onsets: number[]; evaluated: Set<number> }> = [];
      for (const d of detectors) {
        const truth = await rangeTimes(prom.url, d.alert.expr, start, end, step);
        // The score exists where the detector has enough history to judge.
        const evaluated = await rangeTimes(prom.url, `group(${d.score})`, start, end, step);
        // Held for `for:` as Prometheus holds it: pending at the first true evaluation, firing once
        // `for` has passed with every evaluation in between true.
        const need = Math.ceil(forSeconds(d.alert.for) / step);
        const onsets: number[] = [];
        let run = 0;
        for (let t = start; t <= end; t += step) {
          run = truth.has(t) ? run + 1 : 0;
          if (run === need + 1) onsets.push(t);
        }
        runs.push({ d, onsets, evaluated });
      }
      const common = new Set([...runs[0].evaluated].filter((t) => runs.every((r) => r.evaluated.has(t))));
      const spans = labels.map(([a, b]) => ({
        start: Date.parse(`${a.replace(' ', 'T').slice(0, 19)}Z`) / 1000 + shift,
        end: Date.parse(`${b.replace(' ', 'T').slice(0, 19)}Z`) / 1000 + shift,
      }));
      const inWindow = (t: number) => spans.some((x) => t >= x.start && t <= x.end);
      const quietSteps = [...common].filter((t) => !inWindow(t)).length;
      const quietDays = (quietSteps * step) / 86400;
      const results: Result[] = runs.map(({ d, onsets, evaluated }) => {
        const falseOnsets = onsets.filter((t) => common.has(t) && !inWindow(t)).length;
        const rate = quietDays > 0 ? falseOnsets / quietDays : 0;
        const windows = spans.map((x) => {
          const first = onsets.find((t) => t >= x.start && t <= x.end);
          return { ...x, judged: common.has(Math.ceil((x.start - start) / step) * step + start), delaySeconds: first === undefined ? null : first - x.start };
        });
        const chanceDetections = windows.filter((x) => x.judged).reduce((sum, x) => sum + 1 - Math.exp((-rate * (x.end - x.start)) / 86400), 0);
        return { detector: d.name, evaluatedDays: (evaluated.size * step) / 86400, quietDays, falseOnsets, windows, chanceDetections };
      });
      return { step, results, days: (n * step) / 86400 };
    } finally {
      await prom.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** query_range over a long range, in chunks under Prometheus' 11,000 points per series, joined by series. */
async function rangeSeries(url: string, expr: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
  const bySeries = new Map<string, RangeSeries>();
  for (let from = start; from <= end; from += 10_000 * step) {
    const to = Math.min(end, from + 9_999 * step);
    for (const s of await queryRange(url, expr, from, to, step)) {
      const key = JSON.stringify(Object.entries(s.metric).sort());
      const into = bySeries.get(key);
      if (into) into.values.push(...s.values);
      else bySeries.set(key, { metric: s.metric, values: [...s.values] });
    }
  }
  return [...bySeries.values()];
}

/** The evaluation times at which an expression has a value. */
async function rangeTimes(url: string, expr: string, start: number, end: number, step: number): Promise<Set<number>> {
  const times = new Set<number>();
  for (const s of await rangeSeries(url, expr, start, end, step)) for (const [t] of s.values) times.add(Math.round(t));
  return times;
}

async function main(): Promise<void> {
  if (!existsSync(DATA)) {
    console.error(`bench:anomaly: no data at ${DATA}; the benchmark reads the team's shared/data`);
    process.exit(1);
  }
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const rules = join(ROOT, 'recording-rules');
  const detectors = [
    detector('weekly baseline (now)', 'shadowscale:load:anomaly_score', [join(rules, 'kpis.rules.yml'), join(rules, 'forecast.rules.yml')], join(rules, 'alerts.rules.yml'), 'weekly_baseline'),
    detector('7-day z-score (before)', 'shadowscale:load:zscore_1d_to_7d', [join(ROOT, 'bench', 'anomaly-before.rules.yml')], join(ROOT, 'bench', 'anomaly-before.rules.yml'), 'zscore'),
  ];
  const allLabels = JSON.parse(readFileSync(join(DATA, 'nab', 'labels', 'combined_windows.json'), 'utf8')) as Record<string, Array<[string, string]>>;
  const report: unknown[] = [];
  const table = new Table({
    style: { head: [], border: [] },
    head: ['series', 'step', 'days', 'detector', 'scored days', 'quiet days (both scored)', 'pre-scales/quiet day', 'windows judged', 'detected', 'by chance', 'delays from window start (h)'],
  });
  type Total = { quietDays: number; falseOnsets: number; judged: number; detected: number; chance: number; delays: number[] };
  const totals = new Map<string, Total>();
  for (const path of LOAD_SERIES.filter((p) => !only || p.includes(only))) {
    const key = path.startsWith('nab/') ? path.slice(4) : undefined;
    const labels = key ? allLabels[key] ?? [] : [];
    const started = Date.now();
    const { step, results, days } = await measure(path, detectors, labels);
    console.error(`${path}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    for (const r of results) {
      const judged = r.windows.filter((x) => x.judged);
      const detected = judged.filter((x) => x.delaySeconds !== null);
      table.push([
        path.split('/').pop()!.replace('.csv', ''), `${step / 60}m`, days.toFixed(1), r.detector, r.evaluatedDays.toFixed(1), r.quietDays.toFixed(1),
        r.quietDays > 0 ? (r.falseOnsets / r.quietDays).toFixed(2) : '-',
        key ? `${judged.length}/${r.windows.length}` : 'no labels', key ? String(detected.length) : '-', key ? r.chanceDetections.toFixed(1) : '-',
        detected.map((x) => (x.delaySeconds! / 3600).toFixed(1)).join(' ') || '-',
      ]);
      const group = `${r.detector}, ${key ? 'NAB (labelled)' : 'request traces (no labels)'}`;
      const t = totals.get(group) ?? { quietDays: 0, falseOnsets: 0, judged: 0, detected: 0, chance: 0, delays: [] };
      t.quietDays += r.quietDays;
      t.falseOnsets += r.falseOnsets;
      t.judged += judged.length;
      t.detected += detected.length;
      t.chance += r.chanceDetections;
      t.delays.push(...detected.map((x) => x.delaySeconds! / 3600));
      totals.set(group, t);
      report.push({ series: path, stepSeconds: step, days, ...r });
    }
  }
  const summary = new Table({
    style: { head: [], border: [] },
    head: ['detector, series', 'quiet days', 'pre-scales on them', 'per quiet day', 'windows judged', 'detected', 'by chance', 'median delay (h)'],
  });
  for (const [name, t] of [...totals].sort(([a], [b]) => a.localeCompare(b))) {
    const d = [...t.delays].sort((a, b) => a - b);
    const median = d.length ? (d.length % 2 ? d[d.length >> 1] : (d[d.length / 2 - 1] + d[d.length / 2]) / 2) : null;
    const labelled = name.includes('NAB');
    summary.push([name, t.quietDays.toFixed(1), String(t.falseOnsets), t.quietDays ? (t.falseOnsets / t.quietDays).toFixed(2) : '-',
      labelled ? String(t.judged) : '-', labelled ? String(t.detected) : '-', labelled ? t.chance.toFixed(1) : '-', labelled && median !== null ? median.toFixed(1) : '-']);
  }
  const text = `${table.toString()}\n\n${summary.toString()}\n`;
  console.log(text);
  const outDir = join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  if (!only) {
    writeFileSync(join(outDir, 'anomaly.txt'), text);
    writeFileSync(join(outDir, 'anomaly.json'), `${JSON.stringify({ measuredAt: new Date().toISOString(), series: report, totals: Object.fromEntries(totals) }, null, 2)}\n`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
