/** Kubernetes Events on the workload (core/v1), so `kubectl describe deployment` shows what the receiver did. */
import type { KubeApis } from '../../platform/kubernetes.ts';
import { microTime } from '../../platform/kubernetes.ts';

export function eventRecorder(apis: KubeApis, namespace: string, involved: { kind: string; name: string }, component = 'shadowscale-receiver') {
  return async (reason: string, message: string, type: 'Normal' | 'Warning' = 'Normal') => {
    const now = new Date();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${involved.name}.`, namespace },
      involvedObject: { apiVersion: 'apps/v1', kind: involved.kind, name: involved.name, namespace },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component },
      reportingComponent: component,
      reportingInstance: process.env.HOSTNAME ?? component,
      action: reason,
      firstTimestamp: now,
      lastTimestamp: now,
      eventTime: microTime(now.getTime()) as unknown as Date,
      count: 1,
    };
    // Events are best effort: one try, no retries.
    await apis.core.createNamespacedEvent({ namespace, body }, apis.options());
  };
}
