/**
 * The project's rules in compressed time. The demo replays a day in minutes, so every duration in the
 * rules is divided by the speed: `offset 1d` becomes the length of a compressed day (the anomaly
 * baseline compares with "the same time yesterday"), `avg_over_time(...[1d])` a compressed day, `for:
 * 2m` a few seconds. Range windows keep at least `minRangeSeconds` (a rate needs several scrapes) and
 * `for:` at least `minForSeconds` (more for the long ones: scaleFor). Nothing else in the rules changes.
 */
import { parse, stringify } from 'yaml';

import { parseDuration } from '../core/duration.ts';

const DURATION = /(?:\d+(?:ms|[smhdwy]))+/;
const durationSeconds = (text: string) => parseDuration(text) ?? 0;

const fmt = (seconds: number) => `${Math.max(1, Math.round(seconds))}s`;

export interface TimeScale {
  speed: number;
  minRangeSeconds: number;
  minForSeconds: number;
}

/** A PromQL expression with its range windows, subqueries and offsets in compressed time. */
export function scaleExpression(expr: string, t: TimeScale): string {
  const range = (d: string) => fmt(Math.max(t.minRangeSeconds, durationSeconds(d) / t.speed));
  return expr
    .replace(new RegExp(`\\[(${DURATION.source})(?::(${DURATION.source})?)?\\]`, 'g'), (_m, r: string, res: string | undefined) => {
      const scaledRange = range(r);
      if (res === undefined) return _m.includes(':') ? `[${scaledRange}:]` : `[${scaledRange}]`;
      return `[${scaledRange}:${fmt(durationSeconds(res) / t.speed)}]`;
    })
    .replace(new RegExp(`offset\\s+(-?)(${DURATION.source})`, 'g'), (_m, sign: string, d: string) => `offset ${sign}${fmt(durationSeconds(d) / t.speed)}`);
}

/**
 * An alert's `for:` in compressed time. An alert that waits 5 minutes or more watches 5-minute rates
 * for a lasting condition; compressed below the floor of the windows, it would fire on what only
 * lasts a window, such as the requests a degraded set still finishes after a swap (its queue drains
 * in wall time, which no compression shortens). So such alerts wait at least two compressed windows
 * per 5 minutes: MirrorBroken (5m) 20 s, ShadowDegraded (10m) 40 s with 10-second windows.
 */
export function scaleFor(seconds: number, t: TimeScale): number {
  const floor = seconds >= 300 ? (2 * t.minRangeSeconds * seconds) / 300 : t.minForSeconds;
  return Math.max(floor, seconds / t.speed);
}

/** A rule file (YAML text) in compressed time. */
export function scaleRuleFile(text: string, t: TimeScale): string {
  const doc = parse(text) as { groups: Array<{ interval?: string; rules: Array<{ expr: string; for?: string }> }> };
  for (const group of doc.groups) {
    for (const rule of group.rules) {
      rule.expr = scaleExpression(String(rule.expr), t);
      if (rule.for) rule.for = fmt(scaleFor(durationSeconds(rule.for), t));
    }
  }
  return stringify(doc, { lineWidth: 0 });
}

/** A rule file (YAML text) with every alert's `for:` set to `forValue` (tests that need alerts at once). */
export function withFor(text: string, forValue: string): string {
  const doc = parse(text) as { groups: Array<{ rules: Array<{ for?: string }> }> };
  for (const group of doc.groups) for (const rule of group.rules) if (rule.for) rule.for = forValue;
  return stringify(doc, { lineWidth: 0 });
}
