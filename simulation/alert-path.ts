/**
 * The pre-scale's alert path as the shipped files set it: each prescale alert's `for:` and its group's
 * evaluation interval from recording-rules/alerts.rules.yml, the receiver route's group_wait and
 * group_interval from alertmanager/alertmanager.yml, so that the simulator's alerts fire as late as the
 * real ones would, and follow the files when they change.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

import { parseDuration } from '../core/duration.ts';
import { PRESCALE_ALERTS, type AlertPathSpec, type PrescaleAlert } from '../core/simulator/alert-path.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SHIPPED_RULES = join(ROOT, 'recording-rules', 'alerts.rules.yml');
export const SHIPPED_ALERTMANAGER = join(ROOT, 'alertmanager', 'alertmanager.yml');

/**
 * A rule group without `interval` is evaluated at the Prometheus's own interval: the Prometheus
 * Operator's default evaluationInterval (the deployment this project ships, deploy/components/prometheus-operator).
 */
export const DEFAULT_EVALUATION_INTERVAL_SECONDS = 30;
/** Alertmanager's defaults for a route that sets neither (and inherits neither). */
const ALERTMANAGER_DEFAULTS = { group_wait: '30s', group_interval: '5m' };

interface RuleGroup {
  name?: string;
  interval?: string;
  rules?: Array<{ alert?: string; for?: string; labels?: Record<string, string> }>;
}
interface Route {
  receiver?: string;
  group_wait?: string;
  group_interval?: string;
  routes?: Route[];
}

function seconds(text: string | undefined, what: string, file: string): number {
  const s = text === undefined ? 0 : parseDuration(String(text));
  if (s === undefined) throw new Error(`${file}: ${what} is ${JSON.stringify(text)}, not a duration`);
  return s;
}

/** The alert path the rules file and the Alertmanager configuration imply, for the receiver named `receiver`. */
export function alertPathFromFiles(rulesFile = SHIPPED_RULES, alertmanagerFile = SHIPPED_ALERTMANAGER, receiver = 'shadowscale'): AlertPathSpec {
  const rules = parse(readFileSync(rulesFile, 'utf8')) as { groups?: RuleGroup[] } | null;
  const forSeconds: Partial<Record<PrescaleAlert, number>> = {};
  let evaluationIntervalSeconds: number | undefined;
  for (const group of rules?.groups ?? []) {
    for (const rule of group.rules ?? []) {
      if (rule.labels?.shadowscale_action !== 'prescale' || !rule.alert) continue;
      const key = (rule.labels.reason ? `${rule.alert}/${rule.labels.reason}` : rule.alert) as PrescaleAlert;
      if (!PRESCALE_ALERTS.includes(key)) continue;
      forSeconds[key] = seconds(rule.for, `the for: of ${key}`, rulesFile);
      const interval = group.interval === undefined ? DEFAULT_EVALUATION_INTERVAL_SECONDS : seconds(group.interval, `the interval of group ${group.name}`, rulesFile);
      if (evaluationIntervalSeconds !== undefined && interval !== evaluationIntervalSeconds) {
        throw new Error(`${rulesFile}: the prescale alerts are in groups evaluated at different intervals (${evaluationIntervalSeconds} s and ${interval} s); the simulator models one`);
      }
      evaluationIntervalSeconds = interval;
    }
  }
  const missing = PRESCALE_ALERTS.filter((a) => forSeconds[a] === undefined);
  if (missing.length > 0) throw new Error(`${rulesFile}: no prescale alert ${missing.join(', ')} (labels shadowscale_action: prescale and its reason), which the simulator models`);

  const config = parse(readFileSync(alertmanagerFile, 'utf8')) as { route?: Route } | null;
  // The first route (depth first, in order) that sends to the receiver; group settings are inherited from its parents.
  const find = (route: Route, inherited: { group_wait: string; group_interval: string }): { group_wait: string; group_interval: string } | undefined => {
    const here = { group_wait: route.group_wait ?? inherited.group_wait, group_interval: route.group_interval ?? inherited.group_interval };
    for (const child of route.routes ?? []) {
      const found = find(child, here);
      if (found) return found;
    }
    return route.receiver === receiver ? here : undefined;
  };
  const route = config?.route ? find(config.route, ALERTMANAGER_DEFAULTS) : undefined;
  if (!route) throw new Error(`${alertmanagerFile}: no route sends to the receiver ${JSON.stringify(receiver)}`);
  return {
    evaluationIntervalSeconds: evaluationIntervalSeconds!,
    forSeconds: forSeconds as Record<PrescaleAlert, number>,
    groupWaitSeconds: seconds(route.group_wait, 'group_wait', alertmanagerFile),
    groupIntervalSeconds: seconds(route.group_interval, 'group_interval', alertmanagerFile),
  };
}
