/**
 * Authentication of the external metrics API the way an aggregated API server does it: the
 * kube-apiserver proxies the HPA's requests with its front-proxy client certificate, signed by the
 * CA published (with the allowed names) in kube-system/extension-apiserver-authentication. With
 * `adapter.authentication.requestHeader` on, /apis/ is answered only on HTTPS, only to such a
 * certificate, and (`authorization: subjectAccessReview`, the default then) only for what the user it
 * names may do, as the cluster's RBAC says through a SubjectAccessReview; everything else (/metrics,
 * probes, KEDA's endpoints) is unchanged.
 */
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';

import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

import type { Config } from '../core/config.ts';
import { sendStatus } from './status.ts';
import { describeAttributes, type Authorizer, type RemoteUser, type RequestAttributes } from '../platform/kube-auth.ts';

export interface FrontProxyTrust {
  /** PEM of the CA that signs the front proxy's client certificate. */
  ca: string;
  /** Common names accepted; empty: any certificate the CA signed. */
  allowedNames: string[];
  /** Headers carrying the user the front proxy authenticated, its groups, and extra attributes (prefixes). */
  usernameHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

const HEADER_DEFAULTS = { usernameHeaders: ['X-Remote-User'], groupHeaders: ['X-Remote-Group'], extraHeaderPrefixes: ['X-Remote-Extra-'] };

export class AuthenticationConfigError extends Error {}

const CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' };

export async function loadFrontProxyTrust(config: Config, kubeConfig?: KubeConfig): Promise<FrontProxyTrust | undefined> {
  const a = config.adapter.authentication;
  if (a.requestHeader === 'none') return undefined;
  if (a.requestHeader === 'file') {
    try {
      return { ca: readFileSync(a.clientCAFile!, 'utf8'), allowedNames: a.allowedNames, ...HEADER_DEFAULTS };
    } catch (error) {
      throw new AuthenticationConfigError(`adapter.authentication.clientCAFile: cannot read ${a.clientCAFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const where = `ConfigMap ${CONFIGMAP.namespace}/${CONFIGMAP.name}`;
  let kc = kubeConfig;
  if (!kc) {
    kc = new KubeConfig();
    kc.loadFromDefault();
  }
  let data: Record<string, string>;
  try {
    // Read once at start (a restart picks up a rotated CA), as the API server's own clients do by default.
    data = (await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap(CONFIGMAP)).data ?? {};
  } catch (error) {
    const notFound = error instanceof ApiException && error.code === 404;
    throw new AuthenticationConfigError(
      `adapter.authentication.requestHeader cluster: ${notFound ? `${where} not found` : `cannot read ${where}: ${(error as Error).message.split('\n')[0]}`} (the adapter's ServiceAccount needs the extension-apiserver-authentication-reader Role in kube-system)`,
    );
  }
  const ca = data['requestheader-client-ca-file'];
  if (!ca) throw new AuthenticationConfigError(`adapter.authentication.requestHeader cluster: ${where} has no requestheader-client-ca-file (is the API server run with --requestheader-client-ca-file?)`);
  const list = (key: string): string[] => {
    const text = data[key];
    if (!text) return [];
    try {
      const value = JSON.parse(text);
      if (!Array.isArray(value) || !value.every((n) => typeof n === 'string')) throw new Error('not a list of strings');
      return value;
    } catch (error) {
      throw new AuthenticationConfigError(`adapter.authentication.requestHeader cluster: ${where} ${key}: ${(error as Error).message}`);
    }
  };
  const allowedNames = list('requestheader-allowed-names');
  const or = (values: string[], fallback: string[]) => (values.length > 0 ? values : fallback);
  return {
    ca,
    allowedNames: or(allowedNames, config.adapter.authentication.allowedNames),
    usernameHeaders: or(list('requestheader-username-headers'), HEADER_DEFAULTS.usernameHeaders),
    groupHeaders: or(list('requestheader-group-headers'), HEADER_DEFAULTS.groupHeaders),
    extraHeaderPrefixes: or(list('requestheader-extra-headers-prefix'), HEADER_DEFAULTS.extraHeaderPrefixes),
  };
}

/** The attributes of a request to the external metrics API, as the API server's request-info parser makes them. */
export function requestAttributes(path: string): RequestAttributes {
  const m = /^\/apis\/(external\.metrics\.k8s\.io)\/(v1beta1)\/namespaces\/([^/]+)\/([^/]+)$/.exec(path);
  // A GET on a collection (the metric, in a namespace) is a "list", as for any resource.
  if (m) return { resourceAttributes: { group: m[1], version: m[2], namespace: decodeURIComponent(m[3]), resource: decodeURIComponent(m[4]), verb: 'list' } };
  return { nonResourceAttributes: { path, verb: 'get' } };
}

/** A header's value as the front proxy set it (the first, when repeated). */
function header(req: IncomingMessage, name: string): string | undefined {
  const raw = req.headers[name.toLowerCase()];
  return Array.isArray(raw) ? raw[0] : raw;
}

function remoteUser(req: IncomingMessage, trust: FrontProxyTrust): RemoteUser | undefined {
  const first = (names: string[]) => names.map((n) => header(req, n)).find((v) => v !== undefined && v !== '');
  const user = first(trust.usernameHeaders);
  if (!user) return undefined;
  const groups = trust.groupHeaders.flatMap((n) => {
    const raw = req.headers[n.toLowerCase()];
    return (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).flatMap((v) => v.split(',').map((g) => g.trim())).filter(Boolean);
  });
  const extra: Record<string, string[]> = {};
  for (const [name, raw] of Object.entries(req.headers)) {
    const prefix = trust.extraHeaderPrefixes.find((p) => name.startsWith(p.toLowerCase()));
    if (!prefix || raw === undefined) continue;
    const key = decodeURIComponent(name.slice(prefix.length));
    extra[key] = [...(extra[key] ?? []), ...(Array.isArray(raw) ? raw : [raw])];
  }
  return { user, groups, extra };
}

/** Why a request is refused: the Status a Kubernetes client prints. */
export interface Denial {
  code: number;
  reason: string;
  message: string;
}

/**
 * The front-proxy check of one request for `path` (the API server's aggregation layer in front): its
 * TLS client certificate, signed by the front-proxy CA and of an allowed name, then, with an
 * authorizer, the user the proxy names allowed to `list` the metric (a SubjectAccessReview, cached).
 * Undefined: allowed. A promise only when the authorizer is asked. Shared by the Express middleware
 * and the external-metrics values' own request path (adapter/external-metrics.ts).
 */
export function checkFrontProxy(trust: FrontProxyTrust, authorizer: Authorizer | undefined, req: IncomingMessage, path: string): Denial | undefined | Promise<Denial | undefined> {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) {
    return { code: 403, reason: 'Forbidden', message: 'the external metrics API is served on the HTTPS listener only (adapter.authentication.requestHeader is on)' };
  }
  if (!socket.authorized) {
    return { code: 401, reason: 'Unauthorized', message: `a client certificate signed by the front-proxy CA is required (${socket.authorizationError ?? 'none presented'})` };
  }
  const cn = socket.getPeerCertificate().subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (trust.allowedNames.length > 0 && !trust.allowedNames.includes(name ?? '')) {
    return { code: 401, reason: 'Unauthorized', message: `client certificate common name "${name ?? ''}" is not among the allowed names (${trust.allowedNames.join(', ')})` };
  }
  if (!authorizer) return undefined;
  const user = remoteUser(req, trust);
  if (!user) return { code: 401, reason: 'Unauthorized', message: `the front proxy named no user (${trust.usernameHeaders.join(', ')})` };
  const attributes = requestAttributes(path);
  return authorizer.authorize(user, attributes).then(
    (answer) => (answer.allowed ? undefined : { code: 403, reason: 'Forbidden', message: `${describeAttributes(attributes, user.user)}${answer.reason ? `: ${answer.reason}` : ''}` }),
    (error: Error) => ({ code: 500, reason: 'InternalError', message: `authorization of "${user.user}" failed: ${error.message}` }),
  );
}

/**
 * Guards /apis/ (the aggregated API) and /openapi in any letter case; other paths pass. The front
 * proxy's certificate authenticates the API server; the user it names is then authorized (when an
 * authorizer is given) for exactly what the path asks.
 */
export function requireFrontProxy(trust: FrontProxyTrust, authorizer?: Authorizer): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const lower = req.path.toLowerCase();
    if (!lower.startsWith('/apis') && !lower.startsWith('/openapi')) return next();
    const decide = (denial: Denial | undefined) => (denial ? sendStatus(res, denial.code, denial.reason, denial.message) : next());
    const checked = checkFrontProxy(trust, authorizer, req, req.path);
    if (checked instanceof Promise) void checked.then(decide);
    else decide(checked);
  };
}
