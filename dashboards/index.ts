/**
 * The shadowscale dashboards, as JSON for Grafana (dashboard schema v1, what the Grafana UI imports
 * and the sidecar / provisioning load). `npm run dashboards:generate` (or `shadowscale dashboards
 * --out DIR`) writes them; the committed copies in dashboards/json/ are checked for staleness by a test.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';

import { healthDashboard } from './health.ts';
import { overviewDashboard } from './overview.ts';
import { workloadDashboard } from './workload.ts';

export const JSON_DIR = join(import.meta.dirname, 'json');

export function dashboards(): Record<string, Dashboard> {
  return {
    'shadowscale-overview.json': expandRows(overviewDashboard()),
    'shadowscale-workload.json': expandRows(workloadDashboard()),
    'shadowscale-health.json': expandRows(healthDashboard()),
  };
}

/**
 * Rows open: in the v1 schema an expanded row keeps no panels of its own, they follow it at the top
 * level (the SDK nests them, which Grafana shows as a collapsed row).
 */
export function expandRows(d: Dashboard): Dashboard {
  const panels: any[] = [];
  for (const p of (d.panels ?? []) as any[]) {
    if (p.type === 'row' && Array.isArray(p.panels)) {
      const { panels: inner, ...row } = p;
      panels.push({ ...row, collapsed: false, panels: [] }, ...inner);
    } else panels.push(p);
  }
  // Stable panel ids (links to a panel use them).
  panels.forEach((p, i) => (p.id = i + 1));
  return { ...d, panels };
}

export function dashboardJson(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

/** Writes every dashboard into `dir`; returns the files written. */
export function writeDashboards(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(dashboards()).map(([file, d]) => {
    const path = join(dir, file);
    writeFileSync(path, dashboardJson(d));
    return path;
  });
}

/** Every PromQL expression of a dashboard: panel targets (rows' panels included), annotations, variables. */
export function expressions(d: Dashboard): Array<{ where: string; expr: string; kind: 'panel' | 'annotation' | 'variable' }> {
  const out: Array<{ where: string; expr: string; kind: 'panel' | 'annotation' | 'variable' }> = [];
  const visit = (panels: any[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr, kind: 'panel' });
      visit(p.panels);
    }
  };
  visit(d.panels as any[]);
  for (const a of (d.annotations?.list ?? []) as any[]) if (a.expr) out.push({ where: `annotation "${a.name}"`, expr: a.expr, kind: 'annotation' });
  for (const v of (d.templating?.list ?? []) as any[]) if (v.type === 'query') out.push({ where: `variable ${v.name}`, expr: typeof v.query === 'string' ? v.query : v.query?.query, kind: 'variable' });
  return out;
}
