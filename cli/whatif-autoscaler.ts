/**
 * The autoscaler a workload runs today, as `shadowscale whatif` replays it: read from the cluster (the
 * workload's HPA, or the HPA of its KEDA ScaledObject's settings) when one is reachable, else the
 * workload's configuration and the command line. The HPA's target becomes a share of
 * `capacityPerReplica`: an AverageValue target is in the load's unit (as shadowscale's own is), a
 * Utilization target is read as the share of a pod's request at which it serves `capacityPerReplica`.
 */
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';

import type { WorkloadConfig } from '../core/config.ts';
import type { KubeApis } from '../platform/kubernetes.ts';
import { parseQuantity } from '../platform/quantity.ts';

export interface ReplayedAutoscaler {
  /** Where the settings come from, in words. */
  source: string;
  minReplicas: number;
  maxReplicas: number;
  targetUtilization: number;
  /** Its behavior.scaleUp.tolerance, when set (else the cluster's default is replayed). */
  scaleUpTolerance?: number;
}

/** The settings of an autoscaling/v2 HPA, for a workload whose replica serves `capacityPerReplica`. */
export function fromHpa(hpa: V2HorizontalPodAutoscaler, w: WorkloadConfig, fallbackTarget: number): ReplayedAutoscaler {
  const what = `HorizontalPodAutoscaler ${hpa.metadata?.namespace}/${hpa.metadata?.name}`;
  let target: number | undefined;
  let how = '';
  for (const m of hpa.spec?.metrics ?? []) {
    const t = m.resource?.target ?? m.pods?.target ?? m.external?.target ?? m.object?.target ?? m.containerResource?.target;
    if (t?.type === 'AverageValue' && t.averageValue !== undefined) {
      target = parseQuantity(String(t.averageValue)) / w.capacityPerReplica;
      how = `its ${m.type} metric's averageValue ${t.averageValue} ÷ capacityPerReplica ${w.capacityPerReplica}`;
      break;
    }
    if (t?.type === 'Utilization' && t.averageUtilization !== undefined) {
      target = t.averageUtilization / 100;
      how = `its ${m.type} metric's averageUtilization ${t.averageUtilization} %`;
      break;
    }
  }
  const usable = target !== undefined && target > 0 && target <= 1;
  const tolerance = (hpa.spec?.behavior?.scaleUp as { tolerance?: string | number } | undefined)?.tolerance;
  const scaleUpTolerance = tolerance === undefined ? undefined : parseQuantity(String(tolerance));
  return {
    ...(scaleUpTolerance !== undefined && Number.isFinite(scaleUpTolerance) && scaleUpTolerance >= 0 ? { scaleUpTolerance } : {}),
    source: usable ? `${what} (target from ${how})` : `${what} (no AverageValue or Utilization target within capacity: --target-utilization ${fallbackTarget})`,
    minReplicas: hpa.spec?.minReplicas ?? 1,
    maxReplicas: hpa.spec?.maxReplicas ?? w.primary.maxReplicas,
    targetUtilization: usable ? target! : fallbackTarget,
  };
}

/**
 * The workload's autoscaler from the cluster: its HPA (`autoscaler.name`, or the primary's name; for
 * a KEDA ScaledObject, the HPA KEDA made for it, `keda-hpa-<name>`), or undefined with the reason when
 * there is none or the cluster cannot be asked.
 */
export async function readAutoscaler(apis: KubeApis, w: WorkloadConfig, fallbackTarget: number): Promise<ReplayedAutoscaler | { unavailable: string }> {
  if (w.autoscaler.kind === 'None') return { unavailable: 'autoscaler.kind is None' };
  const base = w.autoscaler.name ?? w.primary.name;
  const name = w.autoscaler.kind === 'ScaledObject' ? `keda-hpa-${base}` : base;
  try {
    const hpa = await apis.autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace: w.namespace }, apis.options());
    return fromHpa(hpa, w, fallbackTarget);
  } catch (error) {
    const code = (error as { code?: number }).code;
    return { unavailable: code === 404 ? `no HorizontalPodAutoscaler ${w.namespace}/${name}` : `the cluster cannot be asked: ${(error as Error).message.split('\n')[0]}` };
  }
}
