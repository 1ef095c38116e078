/**
 * The receiver's RoleBindings, from the configuration: one in each namespace it writes in (its
 * workloads', and those it provisions shadows in), binding the ClusterRole `shadowscale-receiver`
 * (deploy/base/rbac-receiver.yaml) to its ServiceAccount. Pure: the deploy files and `shadowscale rbac`
 * write what this returns.
 */
import type { Config } from './config.ts';

/** The namespaces the receiver writes in, sorted. */
export function receiverNamespaces(config: Config): string[] {
  return [...new Set([...config.workloads.map((w) => w.namespace), ...(config.receiver?.provisioning.namespaces ?? [])])].sort();
}

/**
 * One RoleBinding per namespace. `serviceAccountNamespace` absent: the subject names no namespace
 * (kustomize's namespace component fills it in).
 */
export function receiverRoleBindings(config: Config, serviceAccountNamespace?: string): object[] {
  return receiverNamespaces(config).map((namespace) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'shadowscale-receiver-workloads', namespace, labels: { 'app.kubernetes.io/name': 'shadowscale-receiver' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'shadowscale-receiver' },
    subjects: [{ kind: 'ServiceAccount', name: 'shadowscale-receiver', ...(serviceAccountNamespace ? { namespace: serviceAccountNamespace } : {}) }],
  }));
}
