/**
 * Authentication of the external metrics API the way an aggregated API server does it: the
 * kube-apiserver proxies the HPA's requests with its front-proxy client certificate, signed by the
 * CA published (with the allowed names) in kube-system/extension-apiserver-authentication. With
 * `adapter.authentication.requestHeader` on, /apis/ is answered only on HTTPS, only to such a
 * certificate; everything else (/metrics, probes, KEDA's endpoints) is unchanged.
 */
import { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';

import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

import type { Config } from '../core/config.ts';

export interface FrontProxyTrust {
  /** PEM of the CA that signs the front proxy's client certificate. */
  ca: string;
  /** Common names accepted; empty: any certificate the CA signed. */
  allowedNames: string[];
}

export class AuthenticationConfigError extends Error {}

const CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' };

export async function loadFrontProxyTrust(config: Config, kubeConfig?: KubeConfig): Promise<FrontProxyTrust | undefined> {
  const a = config.adapter.authentication;
  if (a.requestHeader === 'none') return undefined;
  if (a.requestHeader === 'file') {
    try {
      return { ca: readFileSync(a.clientCAFile!, 'utf8'), allowedNames: a.allowedNames };
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
  let allowedNames: string[] = [];
  const names = data['requestheader-allowed-names'];
  if (names) {
    try {
      allowedNames = JSON.parse(names);
      if (!Array.isArray(allowedNames) || !allowedNames.every((n) => typeof n === 'string')) throw new Error('not a list of strings');
    } catch (error) {
      throw new AuthenticationConfigError(`adapter.authentication.requestHeader cluster: ${where} requestheader-allowed-names: ${(error as Error).message}`);
    }
  }
  return { ca, allowedNames: allowedNames.length > 0 ? allowedNames : config.adapter.authentication.allowedNames };
}

function status(res: Response, code: number, reason: string, message: string): void {
  res.status(code).json({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** Guards /apis/ (the aggregated API); other paths pass. */
export function requireFrontProxy(trust: FrontProxyTrust): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.path.startsWith('/apis') && req.path !== '/openapi/v2') return next();
    const socket = req.socket;
    if (!(socket instanceof TLSSocket)) {
      status(res, 403, 'Forbidden', 'the external metrics API is served on the HTTPS listener only (adapter.authentication.requestHeader is on)');
      return;
    }
    if (!socket.authorized) {
      status(res, 401, 'Unauthorized', `a client certificate signed by the front-proxy CA is required (${socket.authorizationError ?? 'none presented'})`);
      return;
    }
    const cn = socket.getPeerCertificate().subject?.CN;
    const name = Array.isArray(cn) ? cn[0] : cn;
    if (trust.allowedNames.length > 0 && !trust.allowedNames.includes(name ?? '')) {
      status(res, 401, 'Unauthorized', `client certificate common name "${name ?? ''}" is not among the allowed names (${trust.allowedNames.join(', ')})`);
      return;
    }
    next();
  };
}
