/**
 * Makes shadows exist: every primary Deployment annotated `shadowscale.io/shadows` gets a shadow
 * Deployment (shadow-template.ts), a shadow Service in front of it when the primary has one, and the
 * mirror on its HTTPRoute (`shadowscale.io/route`: a `RequestMirror` filter with `percent` on the rule
 * that sends to the primary's Service). Level-triggered: each pass lists the primaries and converges
 * what differs, so a missed change is caught at the next pass. A change of the primary's pod template
 * (a new image) is carried to the shadow at the next pass; the shadow's replicas are left to the pool.
 */
import type { Audit } from '../alertmanager/audit.ts';
import { isNotFound, type KubeApis } from '../platform/kubernetes.ts';
import type { WarmPool } from './pool.ts';
import { AnnotationError, shadowDeployment, checkShadowTemplate, shadowName, shadowPdb, shadowService, shadowSettings, templateHash, type DisruptionBudget, type PrimaryDeployment, type ShadowSettings } from './shadow-template.ts';
import { ANNOTATIONS, PROVISIONING_LABEL, ROLE_LABEL } from '../core/labels.ts';

const ROUTES = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' };


/** Made by shadowscale for this primary: its managed-by label and a controller reference to the primary's UID. */
function madeFor(o: { metadata?: { labels?: Record<string, string>; ownerReferences?: Array<{ uid?: string; controller?: boolean }> } }, primary: PrimaryDeployment): boolean {
  return o.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'shadowscale' && (o.metadata?.ownerReferences ?? []).some((r) => r.uid === primary.metadata.uid && r.controller === true);
}

export interface ProvisionReport {
  primaries: number;
  created: string[];
  updated: string[];
  /** Pods moved into or out of warm pools. */
  moved: string[];
  /** Warm-pool moves not taken because a set changed since the pass read it (taken up at the next pass). */
  aborted: string[];
  errors: string[];
}

export class ShadowProvisioner {
  constructor(
    private readonly apis: KubeApis,
    /** Namespaces to watch; empty = all namespaces. */
    private readonly namespaces: readonly string[],
    private readonly audit?: Audit,
    /** The warm pool of primaries with `shadowscale.io/pool-max`, run after their shadow is in place. */
    private readonly pool?: WarmPool,
    /** Throws when this replica may no longer write (it lost the Lease); called before every write. */
    private readonly fence: (before: string) => void = () => undefined,
  ) {}

  /**
   * The namespaces that invited provisioning: the configuration's list, or else those labelled
   * `shadowscale.io/provisioning: enabled` (a namespace's owners opt in; nothing is watched by default).
   */
  private async invited(): Promise<string[]> {
    if (this.namespaces.length > 0) return [...this.namespaces];
    const list = await this.apis.retry('list Namespaces labelled for provisioning', () => this.apis.core.listNamespace({ labelSelector: `${PROVISIONING_LABEL}=enabled` }, this.apis.options()));
    return list.items.map((n) => n.metadata?.name ?? '').filter(Boolean);
  }

  private async listPrimaries(): Promise<PrimaryDeployment[]> {
    const namespaces = await this.invited();
    const lists = await Promise.all(namespaces.map((namespace) => this.apis.retry(`list Deployments in ${namespace}`, () => this.apis.apps.listNamespacedDeployment({ namespace }, this.apis.options()))));
    return lists
      .flatMap((l) => l.items)
      .filter((d) => d.metadata?.annotations?.[ANNOTATIONS.shadows] !== undefined && d.metadata?.labels?.[ROLE_LABEL] !== 'shadow') as unknown as PrimaryDeployment[];
  }

  /** One pass over every annotated primary. Never throws: errors are reported per primary. */
  async syncOnce(): Promise<ProvisionReport> {
    const report: ProvisionReport = { primaries: 0, created: [], updated: [], moved: [], aborted: [], errors: [] };
    let primaries: PrimaryDeployment[];
    try {
      primaries = await this.listPrimaries();
    } catch (error) {
      report.errors.push((error as Error).message);
      this.audit?.record({ event: 'error', error: `shadow provisioning: ${(error as Error).message}` });
      return report;
    }
    report.primaries = primaries.length;
    for (const primary of primaries) {
      const where = `${primary.metadata.namespace}/${primary.metadata.name}`;
      try {
        const settings = shadowSettings(primary)!;
        await this.ensureDeployment(primary, settings, report);
        await this.ensureDisruptionBudget(primary, report);
        await this.ensureServiceAndMirror(primary, settings, report);
        await this.pool?.sync(primary, settings, report);
      } catch (error) {
        const message = error instanceof AnnotationError ? error.message : `${where}: ${(error as Error).message}`;
        report.errors.push(message);
        this.audit?.record({ event: 'error', namespace: primary.metadata.namespace, workload: primary.metadata.name, error: `shadow provisioning: ${message}` });
      }
    }
    return report;
  }

  private async ensureDeployment(primary: PrimaryDeployment, settings: ShadowSettings, report: ProvisionReport): Promise<void> {
    const { namespace } = primary.metadata;
    const name = shadowName(primary.metadata.name);
    const desired = shadowDeployment(primary, settings);
    checkShadowTemplate(primary, desired);
    let current;
    try {
      current = await this.apis.retry(`read Deployment ${namespace}/${name}`, () => this.apis.apps.readNamespacedDeployment({ name, namespace }, this.apis.options()));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (!current) {
      this.fence(`creating Deployment ${namespace}/${name}`);
      await this.apis.retry(`create Deployment ${namespace}/${name}`, () => this.apis.apps.createNamespacedDeployment({ namespace, body: desired as any }, this.apis.options()), { conflicts: false });
      report.created.push(`Deployment ${namespace}/${name}`);
      this.record(primary, 'create', `Deployment ${name}`, { replicas: settings.shadows, resourceFraction: settings.resourceFraction });
      return;
    }
    if (!madeFor(current, primary)) {
      throw new Error(`Deployment ${namespace}/${name} exists and was not made by shadowscale for Deployment ${namespace}/${primary.metadata.name}; rename it or remove the ${ANNOTATIONS.shadows} annotation`);
    }
    const hash = templateHash(primary.spec.template);
    if (current.metadata?.annotations?.[ANNOTATIONS.templateHash] === hash) return;
    // The primary changed (image, env, probes...): carry the template over, keep the pool's replicas.
    await this.apis.retry(`update Deployment ${namespace}/${name}`, async () => {
      this.fence(`updating Deployment ${namespace}/${name}`);
      const fresh = await this.apis.apps.readNamespacedDeployment({ name, namespace }, this.apis.options());
      const body = {
        ...fresh,
        metadata: { ...fresh.metadata, annotations: { ...(fresh.metadata?.annotations ?? {}), [ANNOTATIONS.templateHash]: hash } },
        spec: { ...fresh.spec!, template: desired.spec.template },
      };
      await this.apis.apps.replaceNamespacedDeployment({ name, namespace, body: body as any }, this.apis.options());
    });
    report.updated.push(`Deployment ${namespace}/${name}`);
    this.record(primary, 'update', `Deployment ${name}`, { templateHash: hash });
  }

  /** A PodDisruptionBudget for the shadow when one covers the primary's pods (created once; owned by the primary). */
  private async ensureDisruptionBudget(primary: PrimaryDeployment, report: ProvisionReport): Promise<void> {
    const { namespace } = primary.metadata;
    const list = await this.apis.retry(`list PodDisruptionBudgets in ${namespace}`, () => this.apis.policy.listNamespacedPodDisruptionBudget({ namespace }, this.apis.options()));
    const podLabels = primary.spec.template.metadata?.labels ?? {};
    const name = shadowName(primary.metadata.name);
    const existing = list.items.find((p) => p.metadata?.name === name);
    if (existing) {
      if (!madeFor(existing, primary)) throw new Error(`PodDisruptionBudget ${namespace}/${name} exists and was not made by shadowscale for Deployment ${namespace}/${primary.metadata.name}`);
      return;
    }
    const covering = list.items.find((p) => {
      const selector = p.spec?.selector?.matchLabels;
      return selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    });
    if (!covering) return;
    const body = shadowPdb(covering as DisruptionBudget, primary);
    this.fence(`creating PodDisruptionBudget ${namespace}/${name}`);
    await this.apis.retry(`create PodDisruptionBudget ${namespace}/${name}`, () => this.apis.policy.createNamespacedPodDisruptionBudget({ namespace, body: body as any }, this.apis.options()), { conflicts: false });
    report.created.push(`PodDisruptionBudget ${namespace}/${name}`);
    this.record(primary, 'create', `PodDisruptionBudget ${name}`, { mirrors: covering.metadata?.name });
  }

  private async ensureServiceAndMirror(primary: PrimaryDeployment, settings: ShadowSettings, report: ProvisionReport): Promise<void> {
    const { namespace } = primary.metadata;
    let service;
    try {
      service = await this.apis.retry(`read Service ${namespace}/${settings.service}`, () => this.apis.core.readNamespacedService({ name: settings.service, namespace }, this.apis.options()));
    } catch (error) {
      if (isNotFound(error)) {
        if (settings.route) throw new Error(`Service ${namespace}/${settings.service} not found: the mirror needs the primary's Service (annotation ${ANNOTATIONS.service})`);
        return;
      }
      throw error;
    }
    // The annotation names a Service: only one that sends to this Deployment's own pods. Otherwise a
    // Deployment could borrow another team's Service (and through it their route and its traffic).
    const selector = service.spec?.selector ?? {};
    const podLabels = primary.spec.template.metadata?.labels ?? {};
    if (Object.keys(selector).length === 0 || !Object.entries(selector).every(([k, v]) => podLabels[k] === v)) {
      throw new Error(`Service ${namespace}/${settings.service} does not select the pods of Deployment ${namespace}/${primary.metadata.name} (annotation ${ANNOTATIONS.service}); shadowscale mirrors only a Deployment's own Service`);
    }
    const shadowSvc = shadowService(service as any, primary);
    try {
      const existing = await this.apis.retry(`read Service ${namespace}/${shadowSvc.metadata.name}`, () => this.apis.core.readNamespacedService({ name: shadowSvc.metadata.name, namespace }, this.apis.options()));
      if (!madeFor(existing, primary)) {
        throw new Error(`Service ${namespace}/${shadowSvc.metadata.name} exists and was not made by shadowscale for Deployment ${namespace}/${primary.metadata.name}; the mirror would send to whatever it selects, so it is not used`);
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
      this.fence(`creating Service ${namespace}/${shadowSvc.metadata.name}`);
      await this.apis.retry(`create Service ${namespace}/${shadowSvc.metadata.name}`, () => this.apis.core.createNamespacedService({ namespace, body: shadowSvc as any }, this.apis.options()), { conflicts: false });
      report.created.push(`Service ${namespace}/${shadowSvc.metadata.name}`);
      this.record(primary, 'create', `Service ${shadowSvc.metadata.name}`, {});
    }
    if (!settings.route) return;
    const route = settings.route;
    await this.apis.retry(`update HTTPRoute ${namespace}/${route}`, async () => {
      const o = (await this.apis.custom.getNamespacedCustomObject({ ...ROUTES, namespace, name: route }, this.apis.options())) as any;
      const rules = structuredClone(o.spec?.rules ?? []) as any[];
      const rule = rules.find((r) => (r.backendRefs ?? []).some((b: any) => b.name === settings.service));
      if (!rule) throw new Error(`HTTPRoute ${namespace}/${route} has no rule sending to Service ${settings.service}`);
      const port = rule.backendRefs.find((b: any) => b.name === settings.service).port;
      const mirror = { type: 'RequestMirror', requestMirror: { backendRef: { name: shadowSvc.metadata.name, ...(port ? { port } : {}) }, percent: settings.mirrorPercent } };
      const others = (rule.filters ?? []).filter((f: any) => f.type !== 'RequestMirror');
      const existing = (rule.filters ?? []).find((f: any) => f.type === 'RequestMirror');
      if (existing && JSON.stringify(existing) === JSON.stringify(mirror)) return;
      rule.filters = [...others, mirror];
      this.fence(`updating HTTPRoute ${namespace}/${route}`);
      await this.apis.custom.patchNamespacedCustomObject({ ...ROUTES, namespace, name: route, body: { metadata: { resourceVersion: o.metadata?.resourceVersion }, spec: { rules } } }, this.apis.options(true));
      report.updated.push(`HTTPRoute ${namespace}/${route}`);
      this.record(primary, 'update', `HTTPRoute ${route}`, { mirrorPercent: settings.mirrorPercent });
    });
  }

  private record(primary: PrimaryDeployment, verb: string, what: string, details: Record<string, unknown>): void {
    this.audit?.record({ event: 'action', namespace: primary.metadata.namespace, workload: primary.metadata.name, step: { kind: 'provision', verb, what, ...details }, result: 'success', fingerprints: [] });
  }
}
