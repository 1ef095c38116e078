/**
 * The audit log: one JSON line per webhook, decision and API call, with the alert fingerprints, the
 * desired state before and after, and the result. Written with pino to a file (synchronously, so a
 * crash does not lose the line of the call that preceded it) or to standard output.
 */
import { pino, type Logger } from 'pino';

export type AuditEvent =
  | { event: 'webhook'; groupKey: string; status: string; fingerprints: string[]; recorded: number; skipped: Array<{ fingerprint: string; why: string }> }
  | { event: 'decision'; namespace: string; workload: string; before: unknown; after: unknown; reasons: string[] }
  | { event: 'action'; namespace: string; workload: string; step: unknown; result: 'success' | 'error' | 'dry_run' | 'disabled'; error?: string; fingerprints: string[] }
  | { event: 'wait'; namespace: string; workload: string; why: string }
  /** Spill-over: the share of live traffic to the standby changed from `before` to `after`. */
  | { event: 'spill'; namespace: string; workload: string; before: number; after: number; why: string }
  | { event: 'error'; namespace?: string; workload?: string; error: string };

export interface Audit {
  record(event: AuditEvent): void;
}

export function createAudit(file?: string): Audit & { logger: Logger } {
  const destination = pino.destination({ dest: file ?? 1, sync: true, mkdir: true });
  const logger = pino({ name: 'shadowscale-receiver', base: { component: 'audit' } }, destination);
  return { logger, record: (event) => logger.info(event) };
}

/** An audit that keeps events in memory, for tests and the status endpoint. */
export class MemoryAudit implements Audit {
  readonly events: AuditEvent[] = [];
  record(event: AuditEvent): void {
    this.events.push(event);
  }
}
