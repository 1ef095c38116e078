/**
 * Delegated authentication and authorization as Kubernetes' own servers do it: who a bearer token
 * belongs to (TokenReview), whether a user may do something (SubjectAccessReview), both cached briefly;
 * and the guard of a service's /metrics built on them.
 */
import { createHash } from 'node:crypto';

import type { NextFunction, Request, RequestHandler, Response } from 'express';

import type { KubeApis } from './kubernetes.ts';

/** What a request asks to do, as the API server's authorizer sees it. */
export type RequestAttributes =
  | { resourceAttributes: { group: string; version: string; resource: string; namespace?: string; verb: string } }
  | { nonResourceAttributes: { path: string; verb: string } };

/** A user as the cluster knows it (named by the front proxy, or found by a TokenReview). */
export interface RemoteUser {
  user: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** Decides whether a user may do something (the cluster's authorizer, through a SubjectAccessReview). */
export interface Authorizer {
  authorize(user: RemoteUser, attributes: RequestAttributes): Promise<{ allowed: boolean; reason?: string }>;
}

/**
 * Delegated authorization as every aggregated API server does it: a SubjectAccessReview for the user
 * and groups the front proxy names, answered by the cluster's authorizer (RBAC), cached 10 s either
 * way (the API server library's defaults), at most 4,096 answers kept.
 */
export function subjectAccessReviewer(apis: KubeApis, now: () => number = Date.now): Authorizer {
  const cache = new Map<string, { allowed: boolean; reason?: string; until: number }>();
  return {
    async authorize(user, attributes) {
      const key = JSON.stringify([user, attributes]);
      const hit = cache.get(key);
      if (hit && hit.until > now()) return hit;
      const body = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: user.user, groups: user.groups, extra: user.extra, ...attributes } };
      const review = await apis.retry('SubjectAccessReview', () => apis.authorization.createSubjectAccessReview({ body: body as any }, apis.options()));
      const answer = { allowed: review.status?.allowed === true, ...(review.status?.reason ? { reason: review.status.reason } : {}), until: now() + 10_000 };
      if (cache.size >= 4096) cache.clear();
      cache.set(key, answer);
      return answer;
    },
  };
}

/** The API server's wording of a refusal. */
export function describeAttributes(a: RequestAttributes, user: string): string {
  if ('resourceAttributes' in a) {
    const r = a.resourceAttributes;
    return `${r.group} "${r.resource}" is forbidden: User "${user}" cannot ${r.verb} resource "${r.resource}" in API group "${r.group}" in the namespace "${r.namespace}"`;
  }
  return `forbidden: User "${user}" cannot ${a.nonResourceAttributes.verb} path "${a.nonResourceAttributes.path}"`;
}


/** Who a bearer token belongs to, as the cluster's authenticator says (a TokenReview); undefined: nobody. */
export interface TokenAuthenticator {
  authenticate(token: string): Promise<RemoteUser | undefined>;
}

/**
 * Delegated authentication as Kubernetes' own components do it for their /metrics: a TokenReview of
 * the bearer token, cached 10 s either way under the token's SHA-256 (never the token itself), at
 * most 4,096 answers kept.
 */
export function tokenReviewer(apis: KubeApis, now: () => number = Date.now): TokenAuthenticator {
  const cache = new Map<string, { user?: RemoteUser; until: number }>();
  return {
    async authenticate(token) {
      const key = createHash('sha256').update(token).digest('hex');
      const hit = cache.get(key);
      if (hit && hit.until > now()) return hit.user;
      const review = await apis.retry('TokenReview', () => apis.authentication.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } }, apis.options()));
      const u = review.status?.authenticated === true ? review.status.user : undefined;
      const user = u?.username ? { user: u.username, groups: u.groups ?? [], extra: (u.extra ?? {}) as Record<string, string[]> } : undefined;
      if (cache.size >= 4096) cache.clear();
      cache.set(key, { user, until: now() + 10_000 });
      return user;
    },
  };
}

/**
 * Guards a service's /metrics as the Kubernetes components guard theirs: the bearer token is
 * authenticated by a TokenReview, then its user authorized by a SubjectAccessReview for `get` on the
 * non-resource path /metrics (Prometheus' ClusterRole grants it: `nonResourceURLs: ["/metrics"]`).
 * 401 without a token or for one the cluster does not know, 403 when RBAC says no, 503 when the
 * API server cannot be asked (Prometheus retries at its next scrape).
 */
export function requireMetricsReader(authenticator: TokenAuthenticator, authorizer: Authorizer, realm: string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
    const unauthorized = (message: string) => {
      res.status(401).set('WWW-Authenticate', `Bearer realm="${realm}"`).type('text/plain').send(`${message}\n`);
    };
    if (!token) return unauthorized('a bearer token is required: /metrics is authenticated by a TokenReview');
    const attributes: RequestAttributes = { nonResourceAttributes: { path: '/metrics', verb: 'get' } };
    authenticator
      .authenticate(token)
      .then(async (user) => {
        if (!user) return unauthorized('the bearer token was not accepted by the cluster (TokenReview)');
        const answer = await authorizer.authorize(user, attributes);
        if (answer.allowed) return next();
        res.status(403).type('text/plain').send(`${describeAttributes(attributes, user.user)}${answer.reason ? `: ${answer.reason}` : ''}\n`);
      })
      .catch((error: Error) => {
        if (res.headersSent) return;
        res.status(503).set('Retry-After', '5').type('text/plain').send(`cannot authenticate the scrape right now: ${error.message}\n`);
      });
  };
}
