/** What scales the serving set: the HPA or a KEDA ScaledObject, one file each. */
export interface Autoscaler {
  /**
   * Which set it scales, its floor, its ceiling, the lowest floor it accepts, and what it must not be
   * used for (hygiene, below).
   */
  observe(): Promise<{ target: string; minReplicas: number; maxReplicas?: number; lowest: number; blocks?: AutoscalerBlocks; observed?: ObservedVersion }>;
  /**
   * Retargets it and sets its floor, and its ceiling when `maxReplicas` is given. With `observed` (what
   * `observe` returned), written on that version in one request; without, or when it changed since
   * (409), read first and written on what was read.
   */
  set(target: { kind: 'Deployment' | 'StatefulSet'; name: string }, minReplicas: number, maxReplicas?: number, observed?: ObservedVersion): Promise<void>;
}

/** The version of an object as observed, and its ceiling then: a write made on it fails if the object changed since. */
export interface ObservedVersion {
  resourceVersion: string;
  maxReplicas?: number;
}

/** Why shadowscale must not write an autoscaler at all, or must not retarget it in a swap. */
export interface AutoscalerBlocks {
  writes?: string;
  retarget?: string;
}

/** The load, whose per-pod target is a primary pod's capacity: wrong for the shadow's smaller pods. */
const PER_PRIMARY_POD = 'shadowscale_predicted_load';

function perPrimaryPod(where: string, resourceFraction: number): string {
  return `${where} counts the load per pod of the primary's size; after a swap onto shadow pods at resourceFraction ${resourceFraction} it would run ${resourceFraction} of the capacity the load needs. Use shadowscale_desired_replicas with an AverageValue target of 1: it is served in pods of the set that serves`;
}

/** A label value or a text naming one of `sets` as a whole Kubernetes name (not a prefix of a longer one). */
function naming(text: string, sets: readonly string[]): string | undefined {
  return sets.find((s) => new RegExp(`(^|[^a-z0-9.-])${s.replace(/[.]/g, '\\.')}($|[^a-z0-9.-])`).test(text));
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ values?: string[] }>;
}

function selectorNames(selector: LabelSelector | undefined, sets: readonly string[]): string | undefined {
  const values = [...Object.values(selector?.matchLabels ?? {}), ...(selector?.matchExpressions ?? []).flatMap((e) => e.values ?? [])];
  for (const v of values) {
    const set = naming(v, sets);
    if (set) return set;
  }
  return undefined;
}

/**
 * An HPA shadowscale may drive: not one KEDA owns (KEDA rewrites it from its ScaledObject), and, to be
 * retargeted in a swap, none of its metrics may be tied to one set: Resource, ContainerResource and
 * Pods metrics are measured on whatever it scales, shadowscale's own External metrics follow the
 * serving set, but an External metric whose selector names a set, or an Object metric describing one,
 * would keep measuring the old set after the swap (and scale the serving one to its floor).
 */
export function hpaBlocks(
  what: string,
  hpa: { metadata?: { ownerReferences?: Array<{ kind?: string; name?: string }> }; spec?: { metrics?: unknown[] } },
  sets: readonly string[],
  resourceFraction = 1,
): AutoscalerBlocks | undefined {
  const owner = hpa.metadata?.ownerReferences?.find((o) => o.kind === 'ScaledObject');
  if (owner) return { writes: `${what} is owned by ScaledObject ${owner.name}, and KEDA reverts every change to it: configure autoscaler: { kind: ScaledObject, name: ${owner.name} }` };
  const metrics = (hpa.spec?.metrics ?? []) as Array<{ type?: string; external?: { metric?: { name?: string; selector?: LabelSelector } }; object?: { describedObject?: { kind?: string; name?: string }; metric?: { name?: string } } }>;
  for (const [i, m] of metrics.entries()) {
    if (m.type === 'External' && m.external?.metric?.name === PER_PRIMARY_POD && resourceFraction < 1) {
      return { retarget: perPrimaryPod(`${what}: spec.metrics[${i}] (External ${PER_PRIMARY_POD})`, resourceFraction) };
    }
    if (m.type === 'External' && !(m.external?.metric?.name ?? '').startsWith('shadowscale_')) {
      const set = selectorNames(m.external?.metric?.selector, sets);
      if (set) return { retarget: `${what}: spec.metrics[${i}] (External ${m.external?.metric?.name}) selects ${set}; after a swap it would still measure ${set}, not the set that serves. Use Resource or Pods metrics, or shadowscale's (shadowscale_desired_replicas)` };
    }
    if (m.type === 'Object' && m.object?.describedObject?.name && sets.includes(m.object.describedObject.name) && /^(Deployment|StatefulSet)$/.test(m.object.describedObject.kind ?? '')) {
      return { retarget: `${what}: spec.metrics[${i}] (Object ${m.object.metric?.name} of ${m.object.describedObject.kind} ${m.object.describedObject.name}) would still measure ${m.object.describedObject.name} after a swap. Use Resource or Pods metrics, or shadowscale's (shadowscale_desired_replicas)` };
    }
  }
  return undefined;
}

/**
 * The same for a ScaledObject's triggers: cpu and memory follow the target, shadowscale's own (the
 * external scaler or metrics-api trigger pointing at the adapter) follow the workload; others must not
 * name a set.
 */
export function scaledObjectBlocks(
  what: string,
  so: { spec?: { triggers?: Array<{ type?: string; metadata?: Record<string, string> }> } },
  sets: readonly string[],
  resourceFraction = 1,
): AutoscalerBlocks | undefined {
  for (const [i, t] of (so.spec?.triggers ?? []).entries()) {
    if (t.type === 'cpu' || t.type === 'memory') continue;
    const meta = t.metadata ?? {};
    const external = (t.type === 'external' || t.type === 'external-push') && /shadowscale/.test(meta.scalerAddress ?? '');
    const api = t.type === 'metrics-api' && /shadowscale/.test(meta.url ?? '');
    if (resourceFraction < 1 && ((external && (meta.metric || PER_PRIMARY_POD) === PER_PRIMARY_POD) || (api && meta.valueLocation === 'predictedLoad'))) {
      return { retarget: perPrimaryPod(`${what}: spec.triggers[${i}] (${t.type}, ${external ? `metric ${PER_PRIMARY_POD}` : 'valueLocation predictedLoad'})`, resourceFraction) };
    }
    if (external || api) continue;
    for (const [key, value] of Object.entries(meta)) {
      const set = naming(String(value), sets);
      if (set) return { retarget: `${what}: spec.triggers[${i}] (${t.type}) metadata.${key} names ${set}; after a swap it would still measure ${set}, not the set that serves. Use cpu or memory triggers, or shadowscale's external scaler` };
    }
  }
  return undefined;
}
