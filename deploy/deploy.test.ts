/**
 * The Kubernetes deployment: every manifest under deploy/ validated against the Kubernetes OpenAPI
 * schemas and the CRD schemas (kubernetes-models and @kubernetes-models/*: PrometheusRule,
 * ServiceMonitor, AlertmanagerConfig, ScaledObject, HTTPRoute, VirtualService); the kustomizations
 * reference what exists; the generated files are current; the receiver's RBAC grants exactly the API
 * calls its code makes; the examples name what the adapter serves.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';

import { EXTERNAL_METRICS, VALUES_ROUTE } from '../adapter/external-metrics.ts';
import { hpaBlocks, scaledObjectBlocks } from '../actuators/kubernetes/autoscaler.ts';
import { parseConfig } from '../core/config.ts';
import { DEPLOY, GENERATED } from './generate.ts';

const ROOT = join(DEPLOY, '..');

/** Files that are not Kubernetes objects, and why. */
const NOT_KUBERNETES: Record<string, string> = {
  'examples/mirroring/envoy-route.yaml': 'an Envoy route configuration (xDS), not a Kubernetes object',
  'base/shadowscale.yaml': "shadowscale's configuration; kustomize's configMapGenerator makes it a ConfigMap",
  'overlays/hpa/adapter-certificate.yaml': "a patch of the adapter's Deployment (checked in what the overlay renders)",
};

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path, ext) : ext.test(name) ? [path] : [];
  });
}

interface Doc {
  file: string;
  index: number;
  object: any;
}

function documents(): Doc[] {
  return files(DEPLOY, /\.ya?ml$/)
    .filter((f) => !f.endsWith('kustomization.yaml') && !(relative(DEPLOY, f) in NOT_KUBERNETES))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(file, 'utf8'))
        .map((d, index) => {
          if (d.errors.length > 0) throw new Error(`${relative(ROOT, file)} document ${index + 1}: ${d.errors[0].message}`);
          return { file: relative(ROOT, file), index, object: d.toJS() };
        })
        .filter((d) => d.object !== null),
    );
}

/** The model class of an object, from its apiVersion and kind. */
async function model(apiVersion: string, kind: string): Promise<any> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const packages: Record<string, string> = {
    'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
    'keda.sh': '@kubernetes-models/keda',
    'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
    'networking.istio.io': '@kubernetes-models/istio',
    'cert-manager.io': '@kubernetes-models/cert-manager',
  };
  const path = group === '' ? `kubernetes-models/${version}` : `${packages[group] ?? 'kubernetes-models'}/${group}/${version}`;
  const mod = await import(path);
  if (!mod[kind]) throw new Error(`no schema for ${apiVersion} ${kind} in ${path}`);
  return mod[kind];
}

async function validate(object: any): Promise<void> {
  const Model = await model(object.apiVersion, object.kind);
  new Model(object).validate();
}

describe('the manifests', () => {
  const docs = documents();

  it('all validate against the Kubernetes and CRD schemas', async () => {
    const kinds = new Set<string>();
    const failures: string[] = [];
    for (const d of docs) {
      try {
        await validate(d.object);
        kinds.add(`${d.object.apiVersion} ${d.object.kind}`);
      } catch (error) {
        failures.push(`${d.file} #${d.index + 1} (${d.object?.kind} ${d.object?.metadata?.name}): ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
    for (const kind of [
      'apps/v1 Deployment',
      'v1 Service',
      'v1 ConfigMap',
      'rbac.authorization.k8s.io/v1 ClusterRole',
      'apiregistration.k8s.io/v1 APIService',
      'monitoring.coreos.com/v1 PrometheusRule',
      'monitoring.coreos.com/v1 ServiceMonitor',
      'monitoring.coreos.com/v1alpha1 AlertmanagerConfig',
      'keda.sh/v1alpha1 ScaledObject',
      'gateway.networking.k8s.io/v1 HTTPRoute',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'networking.istio.io/v1 VirtualService',
      'cert-manager.io/v1 Certificate',
      'cert-manager.io/v1 Issuer',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
  });

  it('rejects what the API server would reject (the check above can fail)', async () => {
    const deployment = docs.find((d) => d.object.kind === 'Deployment' && d.object.metadata.name === 'shadowscale-adapter')!.object;
    await expect(validate({ ...deployment, spec: { ...deployment.spec, replicas: 'two' } })).rejects.toThrow(/replicas must be integer/);
    const { template: _t, ...noTemplate } = deployment.spec;
    await expect(validate({ ...deployment, spec: noTemplate })).rejects.toThrow(/template/);
    const route = docs.find((d) => d.object.kind === 'HTTPRoute')!.object;
    const bad = structuredClone(route);
    bad.spec.rules[0].filters[0].requestMirror.percent = 150;
    await expect(validate(bad)).rejects.toThrow(/percent/);
  });

  it('run shadowscale as the issue asks: 2 replicas, probes, resources, non-root, read-only root filesystem', () => {
    const deployments = docs.filter((d) => d.object.kind === 'Deployment' && d.file.startsWith('deploy/base/'));
    expect(deployments.map((d) => d.object.metadata.name).sort()).toEqual(['shadowscale-adapter', 'shadowscale-receiver']);
    for (const { object: d } of deployments) {
      expect(d.spec.replicas).toBe(2);
      expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      for (const c of d.spec.template.spec.containers) {
        expect(c.livenessProbe && c.readinessProbe, `${d.metadata.name} probes`).toBeTruthy();
        expect(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${d.metadata.name} resources`).toBeTruthy();
        expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        expect(c.args.slice(0, 1)).toEqual([d.metadata.name.replace('shadowscale-', '')]);
      }
    }
  });

  it('carry a shadowscale configuration that parses, for the workloads the examples scale', () => {
    const config = parseConfig(readFileSync(join(DEPLOY, 'base', 'shadowscale.yaml'), 'utf8'));
    expect(config.receiver?.leaderElection.enabled).toBe(true);
    // The Lease and the state live in the receiver's own namespace ($POD_NAMESPACE): the namespace is set in one place.
    expect(config.receiver?.leaderElection.namespace).toBeUndefined();
    expect(config.receiver?.tokenFile).toBe('/etc/shadowscale/receiver/token');
    const hpa = docs.find((d) => d.object.kind === 'HorizontalPodAutoscaler')!.object;
    const metric = hpa.spec.metrics[0].external;
    expect(Object.keys(EXTERNAL_METRICS)).toContain(metric.metric.name);
    const w = config.workloads.find((x) => x.name === metric.metric.selector.matchLabels.workload)!;
    expect(w).toBeDefined();
    expect(metric.target).toEqual({ type: 'AverageValue', averageValue: '1' });
    const so = docs.find((d) => d.object.kind === 'ScaledObject')!.object;
    // The receiver can swap roles through either example (nothing in them would measure the wrong pods).
    const sets = [w.primary.name, w.shadow?.name ?? `${w.primary.name}-shadow`];
    const fraction = w.shadow?.resourceFraction ?? 0.5;
    expect(hpaBlocks('HorizontalPodAutoscaler example', hpa, sets, fraction)).toBeUndefined();
    expect(scaledObjectBlocks('ScaledObject example', so, sets, fraction)).toBeUndefined();
    expect(so.spec.triggers[0].metadata).toMatchObject({ workload: w.name, namespace: w.namespace, scalerAddress: 'shadowscale-adapter.shadowscale.svc:9100' });
    const svc = docs.find((d) => d.object.kind === 'Service' && d.object.metadata.name === 'shadowscale-adapter')!.object;
    expect(svc.spec.ports.find((p: any) => p.name === 'grpc').port).toBe(9100);
  });

  it('put the aggregated API in the HPA overlay only, and its RoleBinding in kube-system', () => {
    const apiservices = docs.filter((d) => d.object.kind === 'APIService');
    expect(apiservices.map((d) => d.file)).toEqual(['deploy/overlays/hpa/apiservice.yaml']);
    // Its Service's namespace is filled in by components/namespace (checked in what the overlays render).
    expect(apiservices[0].object.spec.service).toEqual({ name: 'shadowscale-adapter', port: 443 });
    expect(apiservices[0].object.spec.insecureSkipTLSVerify).toBeUndefined();
    const reader = docs.find((d) => d.object.kind === 'RoleBinding' && d.object.roleRef.name === 'extension-apiserver-authentication-reader')!.object;
    expect(reader.metadata.namespace).toBe('kube-system');
    expect(docs.some((d) => d.object.kind === 'ClusterRoleBinding' && d.object.roleRef.name === 'system:auth-delegator')).toBe(true);
  });
});

describe('deploy/ and recording-rules/ agree', () => {
  const docs = documents();
  it('scrapes the adapter and the receiver with honorLabels, so their workload namespace survives the Operator', () => {
    const monitors = docs.filter((d) => d.object.kind === 'ServiceMonitor' && d.file === 'deploy/components/prometheus-operator/servicemonitors.yaml');
    expect(monitors.map((m) => m.object.metadata.name).sort()).toEqual(['shadowscale-adapter', 'shadowscale-receiver']);
    for (const m of monitors) for (const e of m.object.spec.endpoints) expect(e.honorLabels, m.object.metadata.name).toBe(true);
  });

  it('routes to the receiver with the same grouping and timings in alertmanager.yml and the AlertmanagerConfig', () => {
    const example = parse(readFileSync(join(ROOT, 'alertmanager', 'alertmanager.yml'), 'utf8')).route.routes.find((r: any) => r.receiver === 'shadowscale');
    const operator = docs.find((d) => d.object.kind === 'AlertmanagerConfig')!.object.spec.route;
    expect(operator.groupBy).toEqual(example.group_by);
    expect(operator.groupWait).toBe(example.group_wait);
    expect(operator.groupInterval).toBe(example.group_interval);
    expect(operator.repeatInterval).toBe(example.repeat_interval);
    expect(operator.matchers.map((m: any) => `${m.name}${m.matchType}"${m.value}"`)).toEqual(example.matchers);
  });
});

/** Components a user adds around an overlay (each applied before components/namespace, which comes last). */
type Extra = 'prometheus-operator' | 'cluster-wide' | 'own-certificate';

/**
 * What `kubectl kustomize` (the real one) renders for an overlay with the components a user adds, as
 * their own kustomization would list them: `resources: [overlay]`, `components: [...extras, namespace]`.
 */
function render(overlay: string, extras: Extra[], deploy = DEPLOY): any[] {
  const dir = mkdtempSync(join(tmpdir(), 'shadowscale-kustomize-'));
  try {
    const rel = (p: string) => relative(dir, join(deploy, p));
    const components = extras.length > 0 ? [...extras, 'namespace'].map((c) => rel(`components/${c}`)) : [];
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: [rel(`overlays/${overlay}`)], ...(components.length > 0 ? { components } : {}) }),
    );
    const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
    if (run.status !== 0) throw new Error(`kubectl kustomize deploy/overlays/${overlay} ${extras.map((e) => `+ components/${e}`).join(' ')}: ${run.stderr || run.error?.message}`);
    return parseAllDocuments(run.stdout).map((d) => d.toJS()).filter((o) => o !== null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Kinds that live in no namespace. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'APIService']);
/** Verbs that change what is stored. */
const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection', '*']);

/**
 * Who may write what cluster-wide: the rules of every ClusterRole that a ClusterRoleBinding in the
 * render binds, except the reviews of system:auth-delegator (a TokenReview or SubjectAccessReview is a
 * question, nothing is stored).
 */
function clusterWideWrites(objects: any[]): string[] {
  const roles = new Map(objects.filter((o) => o.kind === 'ClusterRole').map((o) => [o.metadata.name, o]));
  return objects
    .filter((o) => o.kind === 'ClusterRoleBinding')
    .flatMap((b) => {
      if (b.roleRef.name === 'system:auth-delegator') return [];
      const role = roles.get(b.roleRef.name);
      if (!role) return [`${b.metadata.name}: binds ${b.roleRef.name}, which the render does not define`];
      return role.rules.filter((r: any) => r.verbs.some((v: string) => WRITES.has(v))).map((r: any) => `${b.metadata.name}: ${r.resources.join(', ')} ${r.verbs.join(', ')}`);
    });
}

/** The namespace a render puts each namespaced object in, with the exceptions that name their own. */
function namespacesOf(objects: any[], workloadNamespaces: string[]): string[] {
  return objects
    .filter((o) => !CLUSTER_SCOPED.has(o.kind))
    .filter((o) => !(o.kind === 'RoleBinding' && o.metadata.namespace === 'kube-system' && o.metadata.name === 'shadowscale-adapter-auth-reader'))
    .filter((o) => !(o.kind === 'RoleBinding' && o.metadata.name === 'shadowscale-receiver-workloads' && workloadNamespaces.includes(o.metadata.namespace)))
    .map((o) => `${o.kind}/${o.metadata.name} in ${o.metadata.namespace ?? '(none)'}`);
}

describe('the kustomizations', () => {
  it('are one base, two overlays and the components, and every base and component file is applied', () => {
    const kustomizations = files(DEPLOY, /^kustomization\.yaml$/);
    expect(kustomizations.map((k) => relative(DEPLOY, k)).sort()).toEqual([
      'base/kustomization.yaml',
      'components/cluster-wide/kustomization.yaml',
      'components/namespace/kustomization.yaml',
      'components/own-certificate/kustomization.yaml',
      'components/prometheus-operator/kustomization.yaml',
      'overlays/hpa/kustomization.yaml',
      'overlays/keda/kustomization.yaml',
    ]);
    const used = new Set<string>();
    for (const k of kustomizations) {
      const doc = parseAllDocuments(readFileSync(k, 'utf8'))[0].toJS();
      expect(['Kustomization', 'Component']).toContain(doc.kind);
      for (const r of [...(doc.resources ?? []), ...(doc.patches ?? []).map((p: any) => p.path).filter(Boolean)]) {
        const path = join(dirname(k), r);
        if (!statSync(path).isDirectory()) used.add(path);
      }
      for (const g of doc.configMapGenerator ?? []) for (const f of g.files ?? []) used.add(join(dirname(k), String(f).split('=').at(-1)!));
      // Every overlay sets the namespace with the one component, and removes list items by key, never by index.
      if (relative(DEPLOY, k).startsWith('overlays/')) expect(doc.components, relative(DEPLOY, k)).toEqual(['../../components/namespace']);
      expect(readFileSync(k, 'utf8'), relative(DEPLOY, k)).not.toMatch(/op: remove|\/\d+(\/|$)/m);
    }
    for (const dir of ['base', 'overlays/hpa', 'overlays/keda', 'components/prometheus-operator', 'components/cluster-wide']) {
      for (const f of files(join(DEPLOY, dir), /\.yaml$/).filter((f) => !f.endsWith('kustomization.yaml'))) expect(used.has(f), `${relative(ROOT, f)} is in no kustomization`).toBe(true);
    }
  });

  const config = parseConfig(readFileSync(join(DEPLOY, 'base', 'shadowscale.yaml'), 'utf8'));
  const workloadNamespaces = [...new Set(config.workloads.map((w) => w.namespace))];

  it.each<[string, Extra[]]>([
    ['hpa', []],
    ['hpa', ['prometheus-operator']],
    ['hpa', ['cluster-wide']],
    ['hpa', ['own-certificate']],
    ['hpa', ['prometheus-operator', 'cluster-wide', 'own-certificate']],
    ['keda', []],
    ['keda', ['prometheus-operator']],
    ['keda', ['prometheus-operator', 'cluster-wide']],
  ])('render with kubectl kustomize: %s overlay with %j, and what they render validates', async (overlay, extras) => {
    const objects = render(overlay, extras);
    for (const o of objects) await validate(o);
    const kinds = new Set(objects.map((o) => o.kind));
    expect(kinds.has('Deployment') && kinds.has('ClusterRole') && kinds.has('NetworkPolicy')).toBe(true);
    const operator = extras.includes('prometheus-operator');
    for (const kind of ['ServiceMonitor', 'PrometheusRule', 'AlertmanagerConfig']) expect(kinds.has(kind), kind).toBe(operator);
    expect(kinds.has('APIService')).toBe(overlay === 'hpa');
    // The configuration's ConfigMap is generated with a content hash in its name, and both Deployments
    // mount that name: an edit rolls them.
    const configMaps = objects.filter((o) => o.kind === 'ConfigMap' && /^shadowscale-config-[a-z0-9]+$/.test(o.metadata.name));
    expect(configMaps).toHaveLength(1);
    parseConfig(configMaps[0].data['config.yaml']);
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      expect(d.spec.template.spec.volumes.map((v: any) => v.configMap?.name).filter(Boolean), d.metadata.name).toContain(configMaps[0].metadata.name);
    }
    const adapterService = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'shadowscale-adapter');
    expect(adapterService.spec.ports.map((p: any) => p.name).sort()).toEqual(overlay === 'hpa' ? ['grpc', 'http', 'https'] : ['grpc', 'http']);
    // Everything in one namespace, but the two kinds of binding that must live elsewhere.
    expect(namespacesOf(objects, workloadNamespaces).filter((n) => !n.endsWith(' in shadowscale'))).toEqual([]);
    // Least privilege: no cluster-wide write unless the cluster-wide component asks for it; the
    // receiver may write in each workload namespace through a RoleBinding there.
    expect(clusterWideWrites(objects).length > 0).toBe(extras.includes('cluster-wide'));
    for (const ns of workloadNamespaces) {
      const binding = objects.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === ns && o.metadata.name === 'shadowscale-receiver-workloads');
      expect(binding?.roleRef, ns).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'shadowscale-receiver' });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'shadowscale-receiver', namespace: 'shadowscale' }]);
    }
    if (overlay === 'hpa') {
      // The API server verifies the adapter: never insecureSkipTLSVerify; with cert-manager, the CA of
      // the Certificate the adapter serves is injected into the APIService.
      const apiservice = objects.find((o) => o.kind === 'APIService');
      expect(apiservice.spec.insecureSkipTLSVerify).toBeUndefined();
      expect(apiservice.spec.service).toEqual({ name: 'shadowscale-adapter', namespace: 'shadowscale', port: 443 });
      const adapter = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'shadowscale-adapter');
      const container = adapter.spec.template.spec.containers[0];
      const certDir = container.volumeMounts.find((m: any) => m.name === 'serving-certificate').mountPath;
      expect(container.args.join(' ')).toContain(`--tls-cert-file ${certDir}/tls.crt --tls-private-key-file ${certDir}/tls.key`);
      const secretName = adapter.spec.template.spec.volumes.find((v: any) => v.name === 'serving-certificate').secret.secretName;
      const certificate = objects.find((o) => o.kind === 'Certificate');
      if (extras.includes('own-certificate')) {
        expect(certificate).toBeUndefined();
        expect(kinds.has('Issuer')).toBe(false);
        expect(apiservice.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBeUndefined();
      } else {
        expect(apiservice.metadata.annotations['cert-manager.io/inject-ca-from']).toBe(`shadowscale/${certificate.metadata.name}`);
        expect(certificate.spec.secretName).toBe(secretName);
        expect(certificate.spec.dnsNames).toContain('shadowscale-adapter.shadowscale.svc');
        expect(objects.find((o) => o.kind === 'Issuer' && o.metadata.name === certificate.spec.issuerRef.name)).toBeDefined();
      }
    }
    // The overlay labels what it renders itself (components added around it keep their own labels).
    const key = (o: any) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const fromOverlay = new Set((extras.length > 0 ? render(overlay, []) : objects).map(key));
    expect(fromOverlay.size).toBeGreaterThan(20);
    for (const o of objects.filter((x) => fromOverlay.has(key(x)))) expect(o.metadata.labels?.['shadowscale.io/mode'], `${o.kind} ${o.metadata.name}`).toBe(overlay);
  });

  it('set the namespace in one place: changing components/namespace moves every object and every reference to it', () => {
    const copy = mkdtempSync(join(tmpdir(), 'shadowscale-deploy-'));
    try {
      cpSync(DEPLOY, copy, { recursive: true, filter: (f) => !f.endsWith('.ts') });
      const component = join(copy, 'components', 'namespace', 'kustomization.yaml');
      const text = readFileSync(component, 'utf8');
      expect(text.match(/^ {6}namespace: shadowscale$/gm)).toHaveLength(1);
      writeFileSync(component, text.replace(/^ {6}namespace: shadowscale$/m, '      namespace: autoscaling'));
      for (const [overlay, extras] of [['hpa', ['prometheus-operator', 'cluster-wide']], ['keda', ['prometheus-operator']]] as Array<[string, Extra[]]>) {
        const objects = render(overlay, extras, copy);
        expect(namespacesOf(objects, workloadNamespaces).filter((n) => !n.endsWith(' in autoscaling'))).toEqual([]);
        expect(objects.find((o) => o.kind === 'Namespace').metadata.name).toBe('autoscaling');
        for (const b of objects.filter((o) => /RoleBinding$/.test(o.kind))) for (const subject of b.subjects) expect(subject.namespace, b.metadata.name).toBe('autoscaling');
        const amc = objects.find((o) => o.kind === 'AlertmanagerConfig');
        expect(amc.spec.receivers[0].webhookConfigs[0].url).toBe('http://shadowscale-receiver.autoscaling.svc:8081/alertmanager');
        if (overlay === 'hpa') {
          const apiservice = objects.find((o) => o.kind === 'APIService');
          expect(apiservice.spec.service.namespace).toBe('autoscaling');
          expect(apiservice.metadata.annotations['cert-manager.io/inject-ca-from']).toBe('autoscaling/shadowscale-adapter');
          expect(objects.find((o) => o.kind === 'Certificate').spec.dnsNames).toEqual(['shadowscale-adapter.autoscaling.svc', 'shadowscale-adapter.autoscaling.svc.cluster.local']);
        }
        // No trace of the old namespace in anything rendered (the configuration included).
        const rendered = stringify(objects);
        expect(rendered).not.toMatch(/\.shadowscale\.svc|namespace: shadowscale\b|shadowscale\/shadowscale-adapter/);
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('generated files are current (run npm run deploy:generate)', () => {
    for (const [file, make] of Object.entries(GENERATED)) expect(readFileSync(join(DEPLOY, file), 'utf8'), `deploy/${file} is stale`).toBe(make());
  });
});

/** An RBAC permission: API group, resource (with subresource), verb. */
type Permission = `${string}|${string}|${string}`;
/** Objects the receiver touches only in its own namespace (a Role there, not the ClusterRole). */
const OWN_NAMESPACE = new Set(['coordination.k8s.io|leases', '|configmaps', '|pods|get']);
const ownNamespace = (p: Permission) => OWN_NAMESPACE.has(p) || OWN_NAMESPACE.has(p.split('|').slice(0, 2).join('|'));

/**
 * The calls the receiver's code makes to the Kubernetes API, read from its source: every
 * `apis.<client>.<method>(` of @kubernetes/client-node, mapped to the permission it needs; custom
 * objects through the `{ group, version, plural }` constants of the same file; a list in a file that
 * runs informers (`new ListWatch`) needs `watch` too. An unknown method
 * fails the test, so a new kind of call cannot slip past the RBAC.
 */
function permissionsUsed(): Map<Permission, string[]> {
  const groups: Record<string, string> = { apps: 'apps', core: '', autoscaling: 'autoscaling', coordination: 'coordination.k8s.io', policy: 'policy', discovery: 'discovery.k8s.io' };
  const verbs: Record<string, string> = { read: 'get', list: 'list', create: 'create', replace: 'update', patch: 'patch', delete: 'delete', get: 'get' };
  const used = new Map<Permission, string[]>();
  const add = (p: Permission, where: string) => used.set(p, [...(used.get(p) ?? []), where]);
  // The receiver process runs them all: the webhook's reconciler, its actuators, and the shadow provisioner with its warm pool.
  for (const file of ['alertmanager', 'actuators', 'provisioner'].flatMap((dir) => files(join(ROOT, dir), /\.ts$/)).filter((f) => !f.endsWith('.test.ts'))) {
    const text = readFileSync(file, 'utf8');
    const where = relative(ROOT, file);
    // An informer (client-node's ListWatch) lists and then watches what it lists.
    const watches = /new ListWatch\b/.test(text);
    const customRefs = [...text.matchAll(/\{\s*group:\s*'([^']+)',\s*version:\s*'[^']+',\s*plural:\s*'([^']+)'\s*\}/g)].map((m) => [m[1], m[2]]);
    for (const m of text.matchAll(/apis\.(apps|core|autoscaling|coordination|policy|discovery|custom)\.([a-zA-Z]+)\(/g)) {
      const [, client, method] = m;
      if (client === 'custom') {
        const c = /^(get|patch|list|create|replace|delete)Namespaced(?:Custom)?Object$/.exec(method);
        if (!c) throw new Error(`${where}: unknown custom-object call ${method}`);
        if (customRefs.length === 0) throw new Error(`${where}: ${method} without a { group, version, plural } constant in the file`);
        for (const [group, plural] of customRefs) add(`${group}|${plural}|${verbs[c[1]]}`, where);
        continue;
      }
      const c = /^(read|list|create|replace|patch|delete)(?:Namespaced)?([A-Z][a-zA-Z]*?)(Scale|Status)?(ForAllNamespaces)?$/.exec(method);
      if (!c) throw new Error(`${where}: unknown API call ${client}.${method}`);
      const resource = `${c[2].toLowerCase()}s${c[3] ? `/${c[3].toLowerCase()}` : ''}`;
      add(`${groups[client]}|${resource}|${verbs[c[1]]}`, where);
      if (watches && c[1] === 'list') add(`${groups[client]}|${resource}|watch`, where);
    }
  }
  return used;
}

function permissionsGranted(kind: 'ClusterRole' | 'Role'): Set<Permission> {
  const granted = new Set<Permission>();
  for (const d of documents().filter((x) => x.object.kind === kind && /^shadowscale-receiver(-namespaces)?$/.test(x.object.metadata.name))) {
    for (const rule of d.object.rules) {
      for (const g of rule.apiGroups) for (const r of rule.resources) for (const v of rule.verbs) granted.add(`${g}|${r}|${v}`);
    }
  }
  return granted;
}

describe("the receiver's RBAC", () => {
  it('grants exactly the calls the code makes: nothing missing, nothing unused, own-namespace objects only by a Role', () => {
    const used = permissionsUsed();
    expect(used.size).toBeGreaterThan(20);
    const cluster = permissionsGranted('ClusterRole');
    const own = permissionsGranted('Role');
    const scope = (p: Permission) => (ownNamespace(p) ? own : cluster);
    const missing = [...used].filter(([p]) => !scope(p).has(p)).map(([p, where]) => `${p} (${[...new Set(where)].join(', ')})`);
    expect(missing).toEqual([]);
    const unused = [...cluster, ...own].filter((p) => !used.has(p));
    expect(unused).toEqual([]);
    for (const p of cluster) expect(ownNamespace(p), `${p} cluster-wide`).toBe(false);
  });
});

describe("the README's security section", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  /** The rows of the table between `<!-- marker -->` and `<!-- /marker -->`, as cells. */
  const table = (marker: string): string[][] => {
    const body = readme.split(`<!-- ${marker} -->`)[1]?.split(`<!-- /${marker} -->`)[0] ?? '';
    return body
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| component'))
      .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  };

  it('lists every HTTP route of the adapter and the receiver, and no other', () => {
    const vars: Record<string, string> = { GROUP: 'external.metrics.k8s.io', GROUP_VERSION: 'external.metrics.k8s.io/v1beta1' };
    const inCode = new Set<string>();
    for (const file of ['adapter/server.ts', 'adapter/rest.ts', 'adapter/external-metrics.ts', 'alertmanager/server.ts']) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/\b(?:router|app)\.(?:get|post)\(\s*(\[[^\]]*\]|'[^']*'|`[^`]*`)/g)) {
        for (const p of m[1].matchAll(/['`]([^'`]+)['`]/g)) inCode.add(p[1].replace(/\$\{(\w+)\}/g, (_, v) => vars[v] ?? `\${${v}}`));
      }
    }
    // The external metrics' values are answered before Express (adapter/external-metrics.ts).
    inCode.add(VALUES_ROUTE);
    const inTable = new Set(table('endpoints').flatMap((row) => [...row[1].matchAll(/`(?:GET |POST )?(\/[^`]*)`/g)].map((m) => m[1])));
    expect(inCode.size).toBeGreaterThan(12);
    expect([...inTable].sort()).toEqual([...inCode].sort());
  });

  it("states the receiver's RBAC exactly as the manifests grant it, and the adapter's bindings", () => {
    const rows = table('rbac');
    const stated = (scope: RegExp) =>
      new Set(
        rows
          .filter((r) => r[0] === 'receiver' && scope.test(r[1]))
          .flatMap((r) => r[3].split(', ').flatMap((resource) => r[4].split(', ').map((verb) => `${r[2] === 'core' ? '' : r[2]}|${resource}|${verb}` as Permission))),
      );
    expect([...stated(/^ClusterRole(?!Binding)/)].sort()).toEqual([...permissionsGranted('ClusterRole')].sort());
    expect([...stated(/^Role \(shadowscale\)$/)].sort()).toEqual([...permissionsGranted('Role')].sort());
    // Bindings to roles the manifests do not define (system:auth-delegator and the like), per component.
    for (const component of ['adapter', 'receiver']) {
      const bindings = documents()
        .filter((d) => /RoleBinding$/.test(d.object.kind) && !/^shadowscale-receiver(-namespaces)?$/.test(d.object.roleRef.name) && d.object.subjects?.some((s: any) => s.name === `shadowscale-${component}`))
        .map((d) => `${d.object.kind} to ${d.object.roleRef.name}`);
      const bindingRows = rows.filter((r) => r[0] === component && /Binding (\([^)]*\) )?to /.test(r[1])).map((r) => r[1].replace(/ \(kube-system\)/, '').replace(/`/g, ''));
      expect(bindingRows.sort(), component).toEqual(bindings.sort());
    }
  });
});
