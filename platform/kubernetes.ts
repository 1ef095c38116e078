/**
 * The one Kubernetes client of both services: a KubeConfig found by the usual rules (KUBECONFIG / ~/.kube/config, or the
 * in-cluster service account), typed API clients from @kubernetes/client-node over kept connections
 * (kube-http.ts), a per-request timeout, and retries with exponential backoff for what is worth
 * retrying (409 conflicts, 429, 5xx, network errors and timeouts). Nothing else retries: a 404 or 422
 * is a configuration problem to report.
 */
import {
  ApiException,
  AppsV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  AutoscalingV2Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  PolicyV1Api,
  KubeConfig,
  ServerConfiguration,
  createConfiguration,
  Observable,
  setHeaderMiddleware,
  PatchStrategy,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';

import { keepAliveHttpLibrary, type KeepAliveHttp } from './kube-http.ts';


/**
 * Not the API's answer: a decision of this process not to write (it no longer leads, or what it read
 * has moved). Never retried.
 */
export class LocalDecision extends Error {}

export interface KubeApis {
  /** The kept-connection HTTP layer (absent through a proxy): its resend count, and close() to let the connections go. */
  http?: KeepAliveHttp;
  apps: AppsV1Api;
  authentication: AuthenticationV1Api;
  authorization: AuthorizationV1Api;
  autoscaling: AutoscalingV2Api;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  discovery: DiscoveryV1Api;
  coordination: CoordinationV1Api;
  policy: PolicyV1Api;
  /** Options for a call: the timeout, and the merge-patch content type when `patch`. */
  options(patch?: boolean): ConfigurationOptions;
  /** Retries 409 (unless `conflicts: false`: a write whose body is stale is not worth repeating), 429, 5xx, network errors. */
  retry<T>(what: string, fn: () => Promise<T>, options?: { conflicts?: boolean }): Promise<T>;
}

/** The field manager of every write shadowscale makes. */
export const FIELD_MANAGER = 'shadowscale';

export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** KUBECONFIG / ~/.kube/config, or in-cluster credentials when running in a pod. */
export function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/**
 * The namespace this process runs in: $POD_NAMESPACE (the downward API), else the namespace of the
 * kubeconfig's current context (in a pod, client-node reads the ServiceAccount's namespace file into
 * it; outside, the context's, as kubectl uses), else `default`.
 */
export function podNamespace(env: NodeJS.ProcessEnv, kubeConfig: KubeConfig): string {
  return env.POD_NAMESPACE || kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace?.trim() || 'default';
}

/** A KubeConfig for a plain API server URL (tests, `kubectl proxy`). */
export function kubeConfigFor(server: string, token = 'test'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

export function createKubeApis(kc: KubeConfig, settings: { timeoutMs: number; retries: number; baseDelayMs?: number }): KubeApis {
  // The object-parameter API takes Observable-style middleware (the library's own stub of it).
  const timeout = {
    pre: (context: RequestContext) => {
      context.setSignal(AbortSignal.timeout(settings.timeoutMs));
      // Every write names one field manager, so that server-side apply and GitOps tools (Argo CD, Flux)
      // see which fields shadowscale owns.
      if (context.getHttpMethod() !== 'GET' && context.getHttpMethod() !== 'DELETE') context.setQueryParam('fieldManager', FIELD_MANAGER);
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
  const plain: ConfigurationOptions = { middleware: [timeout], middlewareMergeStrategy: 'append' };
  const merge: ConfigurationOptions = { middleware: [timeout, setHeaderMiddleware('Content-Type', PatchStrategy.MergePatch)], middlewareMergeStrategy: 'append' };
  const baseDelay = settings.baseDelayMs ?? 200;
  // Kept connections, except through a proxy (client-node's proxy agents stay on its own HTTP layer).
  const cluster = kc.getCurrentCluster();
  const httpApi = cluster && !cluster.proxyUrl ? keepAliveHttpLibrary() : undefined;
  const make = <T>(Api: new (configuration: ReturnType<typeof createConfiguration>) => T): T =>
    httpApi ? new Api(createConfiguration({ baseServer: new ServerConfiguration(cluster!.server, {}), authMethods: { default: kc }, httpApi })) : (kc.makeApiClient(Api as never) as T);
  return {
    apps: make(AppsV1Api),
    authentication: make(AuthenticationV1Api),
    authorization: make(AuthorizationV1Api),
    autoscaling: make(AutoscalingV2Api),
    core: make(CoreV1Api),
    custom: make(CustomObjectsApi),
    discovery: make(DiscoveryV1Api),
    coordination: make(CoordinationV1Api),
    policy: make(PolicyV1Api),
    http: httpApi,
    options: (patch) => (patch ? merge : plain),
    async retry<T>(what: string, fn: () => Promise<T>, options?: { conflicts?: boolean }): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        try {
          return await fn();
        } catch (error) {
          if (error instanceof LocalDecision) throw error;
          const code = statusOf(error);
          const retriable = code === undefined || (code === 409 && options?.conflicts !== false) || code === 429 || code >= 500;
          if (!retriable || attempt >= settings.retries) throw new KubeApiError(`${what}: ${describe(error)}`, code);
          const delay = baseDelay * 2 ** attempt * (0.75 + Math.random() * 0.5);
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    },
  };
}

export function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** The Status message of an API error, or the transport error. */
function describe(error: unknown): string {
  if (error instanceof ApiException) {
    let message: string | undefined;
    try {
      const body = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
      message = body?.message;
    } catch {
      // not JSON
    }
    return `HTTP ${error.code}${message ? `: ${message}` : ''}`;
  }
  const e = error as Error & { name?: string; type?: string };
  if (e?.name === 'AbortError' || e?.type === 'aborted' || /aborted|timeout/i.test(e?.message ?? '')) return `timed out (${e.message})`;
  return e?.message ?? String(error);
}

export const isNotFound = (error: unknown) => statusOf(error) === 404 || (error instanceof KubeApiError && error.code === 404);

/** RFC 3339 with microseconds, the format of a `MicroTime` (Lease renewTime, Event eventTime). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
