/**
 * The shadow Deployment of a primary, as a pure function of the primary: the same pod template
 * (containers, env, ConfigMap and Secret references, probes, volumes), resources scaled by the shadow
 * fraction, labels that keep its pods out of the primary's Services and ReplicaSets, an owner
 * reference so it is garbage-collected with the primary, and the hash of the primary's template it
 * was made from, so a change of the primary (a new image) is seen and carried over.
 */
import { createHash } from 'node:crypto';

import { ANNOTATIONS, ROLE_LABEL, SHADOW_OF_LABEL } from '../core/labels.ts';
import { BINARY, parseQuantity, toQuantity } from '../platform/quantity.ts';


export interface ShadowSettings {
  /** Minimum warm shadows. */
  shadows: number;
  mirrorPercent: number;
  resourceFraction: number;
  route?: string;
  service: string;
  /** Most pods the pool holds (>= shadows). */
  poolMax: number;
  poolIdleSeconds: number;
  hpa: string;
}

export class AnnotationError extends Error {}

/** Reads the shadowscale annotations of a primary; undefined when it has none (no shadows wanted). */
export function shadowSettings(primary: { metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> } }): ShadowSettings | undefined {
  const a = primary.metadata?.annotations ?? {};
  if (a[ANNOTATIONS.shadows] === undefined) return undefined;
  const where = `Deployment ${primary.metadata?.namespace}/${primary.metadata?.name}`;
  const num = (key: string, fallback: number, ok: (x: number) => boolean, expected: string) => {
    const text = a[key];
    if (text === undefined) return fallback;
    const x = Number(text);
    if (text.trim() === '' || !ok(x)) throw new AnnotationError(`${where}: annotation ${key}: "${text}" is not ${expected}`);
    return x;
  };
  const shadows = num(ANNOTATIONS.shadows, 1, (x) => Number.isInteger(x) && x >= 0 && x <= 100, 'a whole number from 0 to 100');
  return {
    shadows,
    poolMax: num(ANNOTATIONS.poolMax, shadows, (x) => Number.isInteger(x) && x >= shadows && x <= 1000, `a whole number from ${shadows} (${ANNOTATIONS.shadows}) to 1000`),
    poolIdleSeconds: num(ANNOTATIONS.poolIdle, 600, (x) => Number.isFinite(x) && x >= 0, 'a number of seconds'),
    hpa: a[ANNOTATIONS.hpa] || primary.metadata?.name || '',
    mirrorPercent: num(ANNOTATIONS.mirrorPercent, 10, (x) => x >= 0 && x <= 100, 'a percentage from 0 to 100'),
    resourceFraction: num(ANNOTATIONS.resources, 0.5, (x) => x > 0 && x <= 1, 'a fraction in (0, 1]'),
    route: a[ANNOTATIONS.route] || undefined,
    service: a[ANNOTATIONS.service] || primary.metadata?.name || '',
  };
}

export const shadowName = (primary: string) => `${primary}-shadow`;

/** Hash of what a shadow copies from the primary: its pod template. */
export function templateHash(template: unknown): string {
  return createHash('sha256').update(stableJson(template)).digest('hex').slice(0, 16);
}

function stableJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(stableJson).join(',')}]`;
  if (x && typeof x === 'object') {
    return `{${Object.keys(x as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((x as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(x);
}

/** Selector labels of the shadow: the primary's, each value suffixed, so no primary selector matches its pods. */
export function shadowLabels(labels: Record<string, string>, selectorKeys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = { ...labels };
  for (const key of selectorKeys) if (out[key] !== undefined) out[key] = `${out[key]}-shadow`.slice(0, 63);
  return out;
}

export interface PrimaryDeployment {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { replicas?: number; selector: { matchLabels?: Record<string, string> }; template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: any }; strategy?: unknown; minReadySeconds?: number };
}

/** Who asked for an object the provisioner made: the primary whose annotations did (with the owner reference). */
export const REQUESTED_BY = 'shadowscale.io/requested-by';
const requestedBy = (primary: PrimaryDeployment) => `Deployment ${primary.metadata.namespace}/${primary.metadata.name}`;

/** Pod-spec fields that decide what a pod may do: a shadow must have exactly the primary's. */
const PRIVILEGE_FIELDS = ['serviceAccountName', 'serviceAccount', 'automountServiceAccountToken', 'securityContext', 'hostNetwork', 'hostPID', 'hostIPC', 'volumes', 'runtimeClassName'] as const;

/**
 * The shadow's pod template asks for nothing the primary's does not: the same ServiceAccount, security
 * contexts, host namespaces and volumes, and containers with the same images and security contexts.
 * The provisioner creates it with the receiver's ServiceAccount, so this is checked, not assumed.
 */
export function checkShadowTemplate(primary: PrimaryDeployment, shadow: { spec: { template: { spec: any } } }): void {
  const where = `shadow of Deployment ${primary.metadata.namespace}/${primary.metadata.name}`;
  const p = primary.spec.template.spec ?? {};
  const s = shadow.spec.template.spec ?? {};
  for (const field of PRIVILEGE_FIELDS) {
    if (JSON.stringify(p[field]) !== JSON.stringify(s[field])) throw new Error(`${where}: spec.template.spec.${field} differs from the primary's; not created`);
  }
  for (const list of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
    const pc: any[] = p[list] ?? [];
    const sc: any[] = s[list] ?? [];
    const same = (a: any[], b: any[]) => JSON.stringify(a.map((c) => [c.name, c.image, c.securityContext])) === JSON.stringify(b.map((c) => [c.name, c.image, c.securityContext]));
    if (!same(pc, sc)) throw new Error(`${where}: spec.template.spec.${list} (names, images or securityContext) differ from the primary's; not created`);
  }
}

/** The shadow Deployment for a primary (replicas only matter on creation; the pool logic owns them after). */
export function shadowDeployment(primary: PrimaryDeployment, settings: ShadowSettings) {
  const name = shadowName(primary.metadata.name);
  const selectorKeys = Object.keys(primary.spec.selector.matchLabels ?? {});
  const matchLabels = { ...shadowLabels(primary.spec.selector.matchLabels ?? {}, selectorKeys), [ROLE_LABEL]: 'shadow' };
  const template = structuredClone(primary.spec.template);
  template.metadata = {
    ...(template.metadata ?? {}),
    labels: { ...shadowLabels(template.metadata?.labels ?? {}, selectorKeys), [ROLE_LABEL]: 'shadow', [SHADOW_OF_LABEL]: primary.metadata.name },
  };
  for (const list of ['containers', 'initContainers'] as const) {
    for (const c of template.spec?.[list] ?? []) {
      if (c.resources) c.resources = scaleResources(c.resources, settings.resourceFraction);
    }
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: primary.metadata.namespace,
      labels: { ...(primary.metadata.labels ?? {}), [ROLE_LABEL]: 'shadow', [SHADOW_OF_LABEL]: primary.metadata.name, 'app.kubernetes.io/managed-by': 'shadowscale' },
      annotations: { [ANNOTATIONS.templateHash]: templateHash(primary.spec.template), [REQUESTED_BY]: requestedBy(primary) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: primary.metadata.name, uid: primary.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    // The rollout behaviour of the primary: a shadow that serves after a promotion rolls out as it would.
    spec: {
      replicas: settings.shadows,
      selector: { matchLabels },
      template,
      ...(primary.spec.strategy !== undefined ? { strategy: structuredClone(primary.spec.strategy) } : {}),
      ...(primary.spec.minReadySeconds !== undefined ? { minReadySeconds: primary.spec.minReadySeconds } : {}),
    },
  };
}

export interface DisruptionBudget {
  metadata?: { name?: string; namespace?: string };
  spec?: { selector?: { matchLabels?: Record<string, string> }; minAvailable?: number | string; maxUnavailable?: number | string };
}

/**
 * The shadow's PodDisruptionBudget, mirroring the one that covers the primary's pods: the same
 * `maxUnavailable`, or `minAvailable` when it is a percentage. An absolute `minAvailable` (say 2) would
 * forbid every eviction of a pool of one warm pod and block node drains: it becomes `maxUnavailable: 1`.
 */
export function shadowPdb(primaryPdb: DisruptionBudget, primary: PrimaryDeployment) {
  const selectorKeys = Object.keys(primary.spec.selector.matchLabels ?? {});
  const matchLabels = { ...shadowLabels(primary.spec.selector.matchLabels ?? {}, selectorKeys), [ROLE_LABEL]: 'shadow' };
  const { minAvailable, maxUnavailable } = primaryPdb.spec ?? {};
  const budget =
    maxUnavailable !== undefined ? { maxUnavailable } : typeof minAvailable === 'string' && minAvailable.endsWith('%') ? { minAvailable } : { maxUnavailable: 1 };
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: {
      name: shadowName(primary.metadata.name),
      namespace: primary.metadata.namespace,
      labels: { [ROLE_LABEL]: 'shadow', [SHADOW_OF_LABEL]: primary.metadata.name, 'app.kubernetes.io/managed-by': 'shadowscale' },
      annotations: { 'shadowscale.io/mirrors': `PodDisruptionBudget ${primaryPdb.metadata?.name}`, [REQUESTED_BY]: requestedBy(primary) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: primary.metadata.name, uid: primary.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { selector: { matchLabels }, ...budget },
  };
}

/** The shadow's Service: the primary Service's ports, selecting the shadow's pods. */
export function shadowService(primaryService: { metadata: { name: string; namespace: string; labels?: Record<string, string> }; spec: { ports?: unknown[]; selector?: Record<string, string> } }, primary: PrimaryDeployment) {
  const selectorKeys = Object.keys(primary.spec.selector.matchLabels ?? {});
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: shadowName(primaryService.metadata.name),
      namespace: primaryService.metadata.namespace,
      labels: { ...(primaryService.metadata.labels ?? {}), [ROLE_LABEL]: 'shadow', 'app.kubernetes.io/managed-by': 'shadowscale' },
      annotations: { [REQUESTED_BY]: requestedBy(primary) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: primary.metadata.name, uid: primary.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      ports: primaryService.spec.ports ?? [],
      selector: { ...shadowLabels(primaryService.spec.selector ?? {}, selectorKeys), [ROLE_LABEL]: 'shadow' },
    },
  };
}

type Resources = { requests?: Record<string, string>; limits?: Record<string, string> };

export function scaleResources(resources: Resources, fraction: number): Resources {
  const scale = (m?: Record<string, string>) => (m ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, scaleQuantity(v, fraction, k)])) : undefined);
  return { ...resources, ...(resources.requests ? { requests: scale(resources.requests) } : {}), ...(resources.limits ? { limits: scale(resources.limits) } : {}) };
}

/** A quantity times a fraction: CPU in millicores, byte amounts in whole bytes (in a binary unit when exact). */
export function scaleQuantity(text: string, fraction: number, resource: string): string {
  const value = parseQuantity(text) * fraction;
  if (resource === 'cpu' || resource.endsWith('/cpu')) return toQuantity(Math.max(value, 0.001));
  const unit = /(Ki|Mi|Gi|Ti|Pi|Ei)$/.exec(text.trim())?.[1];
  if (unit) {
    // The input's binary unit or a smaller one, whichever holds the value exactly: 1Gi / 2 = 512Mi.
    const units = Object.keys(BINARY);
    for (const u of units.slice(0, units.indexOf(unit) + 1).reverse()) if (Number.isInteger(value / BINARY[u])) return `${value / BINARY[u]}${u}`;
  }
  return String(Math.max(1, Math.ceil(value)));
}
