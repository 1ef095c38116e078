/**
 * Alertmanager's webhook payload (version 4, as Alertmanager's webhook_config sends it), validated with a
 * schema: unknown fields are ignored (newer Alertmanagers add some), anything malformed is rejected
 * with the path of the bad field.
 */
import { z } from 'zod';

import type { AlertAction } from '../core/promotion/promotion.ts';

const labelSet = z.record(z.string(), z.string({ error: 'expected a string label value' }));
const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected an RFC 3339 time' });

/** The labels the receiver keeps or routes on: bounded like Kubernetes names and label values (253). */
const KEPT_LABELS = ['alertname', 'namespace', 'workload', 'shadowscale_action', 'reason'] as const;
export const MAX_KEPT_LABEL_LENGTH = 253;

const alertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: labelSet.superRefine((labels, ctx) => {
    for (const name of KEPT_LABELS) {
      const value = labels[name];
      if (value !== undefined && value.length > MAX_KEPT_LABEL_LENGTH) {
        ctx.addIssue({ code: 'custom', path: [name], message: `${value.length} characters, above the limit of ${MAX_KEPT_LABEL_LENGTH} for a label the receiver keeps` });
      }
    }
  }),
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1).max(128),
});

export const webhookSchema = z.object({
  version: z.literal('4', { error: 'expected "4" (Alertmanager webhook payload version 4)' }),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().min(0).default(0),
  receiver: z.string().default(''),
  status: z.enum(['firing', 'resolved']),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().default(''),
  alerts: z.array(alertSchema).max(10_000),
});

export type WebhookPayload = z.output<typeof webhookSchema>;

export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

/** Validates a parsed JSON body; throws PayloadError naming the first bad fields. */
export function parseWebhook(body: unknown): WebhookPayload {
  const result = webhookSchema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  const more = result.error.issues.length > 3 ? ` (and ${result.error.issues.length - 3} more)` : '';
  throw new PayloadError(`invalid Alertmanager webhook payload: ${issues.join('; ')}${more}`);
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return 'body';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

const ACTIONS = new Set<AlertAction>(['prescale', 'promote', 'demote', 'restart', 'none']);

export interface RoutedAlert {
  namespace: string;
  workload: string;
  fingerprint: string;
  alertname: string;
  action: AlertAction;
  reason?: string;
  status: 'firing' | 'resolved';
  startsAt: string;
}

/**
 * The alerts the receiver acts on, grouped by namespace/workload, and the ones it cannot place
 * (no namespace/workload label, or an unknown shadowscale_action) with why.
 */
export function routeAlerts(payload: WebhookPayload): { routed: RoutedAlert[]; skipped: Array<{ fingerprint: string; why: string }> } {
  const routed: RoutedAlert[] = [];
  const skipped: Array<{ fingerprint: string; why: string }> = [];
  for (const alert of payload.alerts) {
    const { namespace, workload, alertname = '', shadowscale_action: action, reason } = alert.labels;
    if (!namespace || !workload) {
      skipped.push({ fingerprint: alert.fingerprint, why: `${alertname || 'alert'} has no namespace and workload labels` });
    } else if (!action || !ACTIONS.has(action as AlertAction)) {
      skipped.push({ fingerprint: alert.fingerprint, why: `${alertname || 'alert'} has shadowscale_action "${action ?? ''}", expected prescale, promote, demote, restart or none` });
    } else {
      routed.push({
        namespace,
        workload,
        fingerprint: alert.fingerprint,
        alertname,
        action: action as AlertAction,
        ...(reason ? { reason } : {}),
        status: alert.status,
        startsAt: alert.startsAt,
      });
    }
  }
  return { routed, skipped };
}
