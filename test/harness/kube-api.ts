/**
 * A small in-test Kubernetes API server: the subset of paths the receiver calls, answering with the
 * real API's JSON shapes (objects with metadata.resourceVersion, `Status` objects for errors, the
 * autoscaling/v1 `Scale` subresource), optimistic concurrency (409 on a stale resourceVersion), JSON
 * merge patch, and a record of every request. Faults can be injected: an error status or a request
 * that never answers. A Deployment's ready replicas follow its spec after `readyDelayMs`, like a
 * controller's would. Collections can be watched (`?watch=true` from a list's resourceVersion: a stream of
 * ADDED/MODIFIED/DELETED events, 410 Expired once that version has left the server's event history,
 * closed after `timeoutSeconds`), as informers do.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  /** `labelSelector` of a list, when given. */
  labelSelector?: string;
  contentType?: string;
  /** The bearer token it came with: which client (receiver replica) made it. */
  user?: string;
  /** `fieldManager` of a write, when given. */
  fieldManager?: string;
  /** A watch (`?watch=true`) rather than a read. */
  watch?: boolean;
  body?: any;
  at: number;
}

type WatchEvent = { rv: number; type: 'ADDED' | 'MODIFIED' | 'DELETED'; path: string; object: any };
type Watcher = { base: string; res: http.ServerResponse; path: string };

type Fault = { match: (r: RecordedRequest) => boolean; times: number; status?: number; hang?: boolean; reset?: boolean; delayMs?: number };

const COLLECTIONS: Array<{ re: RegExp; kind: string; apiVersion: string }> = [
  { re: /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments/, kind: 'Deployment', apiVersion: 'apps/v1' },
  { re: /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/statefulsets/, kind: 'StatefulSet', apiVersion: 'apps/v1' },
  { re: /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/replicasets/, kind: 'ReplicaSet', apiVersion: 'apps/v1' },
  { re: /^\/api\/v1\/namespaces\/([^/]+)\/pods/, kind: 'Pod', apiVersion: 'v1' },
  { re: /^\/apis\/autoscaling\/v2\/namespaces\/([^/]+)\/horizontalpodautoscalers/, kind: 'HorizontalPodAutoscaler', apiVersion: 'autoscaling/v2' },
  { re: /^\/apis\/keda\.sh\/v1alpha1\/namespaces\/([^/]+)\/scaledobjects/, kind: 'ScaledObject', apiVersion: 'keda.sh/v1alpha1' },
  { re: /^\/apis\/gateway\.networking\.k8s\.io\/v1\/namespaces\/([^/]+)\/httproutes/, kind: 'HTTPRoute', apiVersion: 'gateway.networking.k8s.io/v1' },
  { re: /^\/apis\/networking\.istio\.io\/v1\/namespaces\/([^/]+)\/virtualservices/, kind: 'VirtualService', apiVersion: 'networking.istio.io/v1' },
  { re: /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases/, kind: 'Lease', apiVersion: 'coordination.k8s.io/v1' },
  { re: /^\/api\/v1\/namespaces\/([^/]+)\/services/, kind: 'Service', apiVersion: 'v1' },
  { re: /^\/api\/v1\/namespaces\/([^/]+)\/configmaps/, kind: 'ConfigMap', apiVersion: 'v1' },
  { re: /^\/api\/v1\/namespaces\/([^/]+)\/events/, kind: 'Event', apiVersion: 'v1' },
  { re: /^\/apis\/policy\/v1\/namespaces\/([^/]+)\/poddisruptionbudgets/, kind: 'PodDisruptionBudget', apiVersion: 'policy/v1' },
  { re: /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices/, kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' },
];

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: any, patch: any): any {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Whether the object at `path` is an item of the collection at `base` (not a subresource, not a deeper path). */
function inCollection(base: string, path: string): boolean {
  return path.startsWith(`${base}/`) && !path.slice(base.length + 1).includes('/');
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  /** Objects by path (collection path + '/' + name). */
  readonly objects = new Map<string, any>();
  private faults: Fault[] = [];
  private version = 1000;
  private server?: http.Server;
  private readonly hanging = new Set<http.ServerResponse>();
  /** Per connection, what restarts its idle timer once a response is sent (idleCloseMs). */
  private readonly idleWatch = new WeakMap<object, () => void>();
  url = '';
  readyDelayMs = 0;
  /** How many events the server keeps for watches to resume from (the API server keeps a few minutes' worth). */
  watchHistory = 1000;
  /** How late watch events reach the watchers (in order). */
  watchDelayMs = 0;
  private readonly events: WatchEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  /** TCP connections accepted so far (how many the clients opened). */
  connections = 0;
  /**
   * Closes a connection idle for this long, without saying so in a Keep-Alive header (as a load
   * balancer in front of the API server does): a client may write its next request on it just as it
   * closes. Undefined: idle connections are kept 65 s, and the server says so.
   */
  idleCloseMs?: number;
  /**
   * A gateway controller: when set, an HTTPRoute whose spec changed has its generation bumped (as the
   * API server does) and, this many ms later, its status.parents conditions Accepted and ResolvedRefs
   * written at that generation, as a gateway acknowledges a route it has programmed.
   */
  gatewayAckMs?: number;
  /** Called with each request as it arrives (benchmarks index them instead of scanning `requests`). */
  onRequest?: (r: RecordedRequest) => void;
  /** Called after each successful write, before it is answered (the in-test controllers hook in here). */
  onChange?: () => void;
  /** Adds a controller to run after each successful write, after those already there. */
  addController(run: () => void): void {
    const before = this.onChange;
    this.onChange = () => {
      before?.();
      run();
    };
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    // Like the API server, keep idle connections for long (Node's default is 5 s).
    this.server.keepAliveTimeout = 65_000;
    this.server.on('connection', (socket) => {
      this.connections++;
      if (this.idleCloseMs === undefined) return;
      let timer: NodeJS.Timeout | undefined;
      const idle = () => {
        clearTimeout(timer);
        timer = setTimeout(() => socket.destroy(), this.idleCloseMs);
      };
      idle();
      socket.on('data', () => clearTimeout(timer));
      socket.on('close', () => clearTimeout(timer));
      this.idleWatch.set(socket, idle);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.closeWatches();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /**
   * Answers the next `times` requests matching with `status`, never answers them (`hang`), or closes
   * their connection without an answer (`reset`: the server closed it just as the request came);
   * `delayMs` later than it would (the status or the reset).
   */
  inject(match: (r: RecordedRequest) => boolean, fault: { status?: number; hang?: boolean; reset?: boolean; times?: number; delayMs?: number }): void {
    this.faults.push({ match, times: fault.times ?? 1, status: fault.status, hang: fault.hang, reset: fault.reset, delayMs: fault.delayMs });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Creates or replaces an object at its canonical path. */
  put(path: string, object: any): any {
    const stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.version), uid: object.metadata?.uid ?? `uid-${this.version}` } };
    const type = this.objects.has(path) ? 'MODIFIED' : 'ADDED';
    this.objects.set(path, stored);
    this.emit({ rv: this.version, type, path, object: stored });
    return stored;
  }

  /** Deletes an object, as the API server does (a DELETED event carries it at a new resourceVersion). */
  remove(path: string): void {
    const o = this.objects.get(path);
    if (!o) return;
    this.objects.delete(path);
    this.emit({ rv: ++this.version, type: 'DELETED', path, object: { ...o, metadata: { ...o.metadata, resourceVersion: String(this.version) } } });
  }

  /** Ends every open watch (as an API server restart or a load balancer does); clients watch again from where they were. */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Open watches. */
  get watching(): number {
    return this.watchers.size;
  }

  private emit(event: WatchEvent): void {
    this.events.push(event);
    if (this.events.length > this.watchHistory) this.events.splice(0, this.events.length - this.watchHistory);
    for (const w of this.watchers) if (inCollection(w.base, event.path)) this.sendEvent(w.res, event);
  }

  private sendEvent(res: http.ServerResponse, event: WatchEvent, late = true): void {
    const line = `${JSON.stringify({ type: event.type, object: event.object })}\n`;
    if (!late || this.watchDelayMs <= 0) res.write(line);
    else setTimeout(() => !res.writableEnded && res.write(line), this.watchDelayMs).unref();
  }

  /** A watch on the collection at `base` from `resourceVersion` (the real API's semantics for the cases informers use). */
  private watch(base: string, url: URL, res: http.ServerResponse): void {
    const from = url.searchParams.get('resourceVersion');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const watcher: Watcher = { base, res, path: url.pathname };
    if (from && from !== '0') {
      const since = Number(from);
      const oldest = this.events[0]?.rv ?? this.version + 1;
      if (!Number.isInteger(since) || (since < oldest - 1 && this.events.length >= this.watchHistory)) {
        res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${oldest - 1})`) })}\n`);
        return;
      }
      for (const e of this.events) if (e.rv > since && inCollection(base, e.path)) this.sendEvent(res, e, false);
    } else {
      // No version: the current objects as ADDED, then what changes.
      for (const [path, object] of this.objects) if (inCollection(base, path)) this.sendEvent(res, { rv: 0, type: 'ADDED', path, object }, false);
    }
    this.watchers.add(watcher);
    const timeout = Number(url.searchParams.get('timeoutSeconds'));
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    timer?.unref();
    res.on('close', () => {
      clearTimeout(timer);
      this.watchers.delete(watcher);
    });
  }

  get(path: string): any {
    return this.objects.get(path);
  }

  deployment(namespace: string, name: string, replicas: number, kind: 'Deployment' | 'StatefulSet' = 'Deployment'): void {
    const plural = kind === 'Deployment' ? 'deployments' : 'statefulsets';
    this.put(`/apis/apps/v1/namespaces/${namespace}/${plural}/${name}`, {
      apiVersion: 'apps/v1',
      kind,
      metadata: { name, namespace, generation: 1 },
      spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'example/app:1' }] } } },
      status: { replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 1 },
    });
  }

  /** A Namespace with labels. */
  namespace(name: string, labels: Record<string, string> = {}): void {
    this.put(`/api/v1/namespaces/${name}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  }

  /** An autoscaling/v2 HPA scaling the Deployment `target`. */
  hpa(namespace: string, name: string, target: string, minReplicas: number, maxReplicas: number, extra: Record<string, unknown> = {}): string {
    const path = `/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers/${name}`;
    this.put(path, {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name, namespace },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target }, minReplicas, maxReplicas, ...extra },
    });
    return path;
  }

  /** Requests that changed something (not GET). */
  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://x');
      const record: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, contentType: req.headers['content-type'], at: Date.now() };
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (bearer) record.user = bearer[1];
      const selector = url.searchParams.get('labelSelector');
      if (selector) record.labelSelector = selector;
      const manager = url.searchParams.get('fieldManager');
      if (manager) record.fieldManager = manager;
      if (record.method === 'GET' && ['true', '1'].includes(url.searchParams.get('watch') ?? '')) record.watch = true;
      if (text) {
        try {
          record.body = JSON.parse(text);
        } catch {
          record.body = text;
        }
      }
      this.requests.push(record);
      this.onRequest?.(record);
      const fault = this.faults.find((f) => f.times > 0 && f.match(record));
      if (fault) {
        fault.times--;
        if (fault.hang) {
          this.hanging.add(res);
          return;
        }
        const answer = () =>
          fault.reset ? req.socket.destroy() : this.send(res, fault.status!, status(fault.status!, fault.status === 409 ? 'Conflict' : 'InternalError', `injected ${fault.status}`));
        if (fault.delayMs) setTimeout(answer, fault.delayMs);
        else answer();
        return;
      }
      if (record.watch) {
        const collection = COLLECTIONS.find((c) => c.re.test(record.path));
        const rest = collection ? record.path.replace(collection.re, '') : 'x';
        if (!collection || rest !== '') {
          this.send(res, 404, status(404, 'NotFound', `no watch on ${record.path}`));
          return;
        }
        this.watch(record.path, url, res);
        return;
      }
      try {
        const [code, body] = this.route(record);
        if (record.method !== 'GET' && code < 300) this.onChange?.();
        this.send(res, code, code < 300 && record.method !== 'GET' && this.onChange && (body as any)?.metadata?.name ? this.fresh(record, body) : body);
      } catch (error) {
        this.send(res, 500, status(500, 'InternalError', (error as Error).message));
      }
    });
  }

  private send(res: http.ServerResponse, code: number, body: unknown): void {
    const socket = res.socket;
    res.once('finish', () => socket && this.idleWatch.get(socket)?.());
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  /** A written object as the controllers left it (a Scale is answered as it was). */
  private fresh(r: RecordedRequest, body: any): unknown {
    if (body.kind === 'Scale' || body.kind === 'Status') return body;
    const path = r.method === 'POST' ? `${r.path}/${body.metadata.name}` : r.path;
    return this.objects.get(path) ?? body;
  }

  private list(kind: string, apiVersion: string, prefix: RegExp, labelSelector?: string): [number, unknown] {
    const wanted = (labelSelector ?? '')
      .split(',')
      .filter(Boolean)
      .map((term) => term.split('=') as [string, string]);
    const items = [...this.objects]
      .filter(([path]) => prefix.test(path) && path.replace(prefix, '').split('/').filter(Boolean).length === 1)
      .map(([, o]) => o)
      // `key=value`, or `key` alone: the label is set.
      .filter((o) => wanted.every(([k, v]) => (v === undefined ? o.metadata?.labels?.[k] !== undefined : o.metadata?.labels?.[k] === v)));
    return [200, { kind: `${kind}List`, apiVersion, metadata: { resourceVersion: String(this.version) }, items }];
  }

  /** A ConfigMap's data and binaryData together may hold at most 1 MiB (the API server's validation). */
  private tooLarge(r: RecordedRequest): [number, unknown] | undefined {
    if (!/\/configmaps(\/|$)/.test(r.path) || (r.method !== 'POST' && r.method !== 'PUT')) return undefined;
    const size = [...Object.entries(r.body?.data ?? {}), ...Object.entries(r.body?.binaryData ?? {})].reduce((n, [k, v]) => n + k.length + String(v).length, 0);
    if (size <= 1024 * 1024) return undefined;
    return [422, status(422, 'Invalid', `ConfigMap "${r.body?.metadata?.name ?? ''}" is invalid: []: Too long: must have at most 1048576 bytes`)];
  }

  /**
   * The cluster's authorizer for SubjectAccessReviews: whether the review's spec (user, groups,
   * resourceAttributes or nonResourceAttributes) is allowed. Default: nothing is.
   */
  authorize: (spec: any) => boolean = () => false;

  /** The cluster's authenticator for TokenReviews: the user a bearer token belongs to. Default: no token is known. */
  authenticate: (token: string) => { username: string; groups?: string[] } | undefined = () => undefined;

  private route(r: RecordedRequest): [number, unknown] {
    const invalid = this.tooLarge(r);
    if (invalid) return invalid;
    if (r.path === '/apis/authorization.k8s.io/v1/subjectaccessreviews' && r.method === 'POST') {
      const allowed = this.authorize(r.body?.spec ?? {});
      return [201, { ...r.body, status: { allowed, ...(allowed ? { reason: 'RBAC: allowed' } : {}) } }];
    }
    if (r.path === '/apis/authentication.k8s.io/v1/tokenreviews' && r.method === 'POST') {
      const user = typeof r.body?.spec?.token === 'string' ? this.authenticate(r.body.spec.token) : undefined;
      return [201, { ...r.body, status: user ? { authenticated: true, user: { username: user.username, groups: [...(user.groups ?? []), 'system:authenticated'] } } : { authenticated: false, error: 'invalid bearer token' } }];
    }
    // All namespaces: /apis/apps/v1/deployments and the like.
    const all = /^\/apis\/apps\/v1\/(deployments|statefulsets)$/.exec(r.path);
    if (all && r.method === 'GET') {
      return this.list(all[1] === 'deployments' ? 'Deployment' : 'StatefulSet', 'apps/v1', new RegExp(`^/apis/apps/v1/namespaces/[^/]+/${all[1]}`));
    }
    if (r.path === '/api/v1/namespaces' && r.method === 'GET') return this.list('Namespace', 'v1', /^\/api\/v1\/namespaces/, r.labelSelector);
    const namespaceObject = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(r.path);
    if (namespaceObject && r.method === 'GET') {
      const o = this.objects.get(r.path);
      return o ? [200, o] : [404, status(404, 'NotFound', `namespaces "${namespaceObject[1]}" not found`)];
    }
    const collection = COLLECTIONS.find((c) => c.re.test(r.path));
    if (!collection) return [404, status(404, 'NotFound', `the server could not find the requested resource ${r.path}`)];
    const [, namespace] = collection.re.exec(r.path)!;
    const rest = r.path.replace(collection.re, '').split('/').filter(Boolean);
    const base = r.path.slice(0, r.path.length - rest.join('/').length).replace(/\/$/, '');
    if (rest.length === 0) {
      if (r.method === 'GET') return this.list(collection.kind, collection.apiVersion, new RegExp(`^${base.replace(/[.]/g, '\\.')}`), r.labelSelector);
      if (r.method !== 'POST') return [405, status(405, 'MethodNotAllowed', 'only list and create are served on collections')];
      const name = r.body?.metadata?.name ?? (r.body?.metadata?.generateName ? `${r.body.metadata.generateName}${this.version + 1}` : undefined);
      if (!name) return [422, status(422, 'Invalid', 'metadata.name: Required value')];
      if (this.objects.has(`${base}/${name}`)) return [409, status(409, 'AlreadyExists', `${collection.kind} "${name}" already exists`)];
      return [201, this.put(`${base}/${name}`, { ...r.body, metadata: { ...r.body.metadata, name, namespace } })];
    }
    const [name, sub] = rest;
    const path = `${base}/${name}`;
    const current = this.objects.get(path);
    if (!current) return [404, status(404, 'NotFound', `${collection.kind.toLowerCase()}s "${name}" not found`)];

    if (sub === 'scale') {
      const scale = () => {
        const o = this.objects.get(path);
        return {
          kind: 'Scale',
          apiVersion: 'autoscaling/v1',
          metadata: { name, namespace, resourceVersion: o.metadata.resourceVersion, uid: o.metadata.uid },
          spec: { replicas: o.spec.replicas },
          status: { replicas: o.status?.replicas ?? 0, selector: `app=${name}` },
        };
      };
      if (r.method === 'GET') return [200, scale()];
      if (r.method !== 'PATCH' && r.method !== 'PUT') return [405, status(405, 'MethodNotAllowed', r.method)];
      if (r.method === 'PATCH' && r.contentType !== 'application/merge-patch+json') return [415, status(415, 'UnsupportedMediaType', `${r.contentType} is not served here`)];
      const rv = r.body?.metadata?.resourceVersion;
      if (rv !== undefined && rv !== current.metadata.resourceVersion) return [409, status(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again')];
      const replicas = r.body?.spec?.replicas;
      if (!Number.isInteger(replicas) || replicas < 0) return [422, status(422, 'Invalid', 'spec.replicas: Invalid value')];
      this.setReplicas(path, replicas);
      return [200, scale()];
    }
    if (sub) return [404, status(404, 'NotFound', `subresource ${sub}`)];

    if (r.method === 'GET') return [200, current];
    if (r.method === 'DELETE') {
      this.remove(path);
      return [200, status(200, '', 'deleted')];
    }
    const rv = r.body?.metadata?.resourceVersion;
    if (rv !== undefined && rv !== current.metadata.resourceVersion) return [409, status(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again')];
    if (r.method === 'PUT') {
      if (rv === undefined) return [422, status(422, 'Invalid', 'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update')];
      return [200, this.put(path, { ...r.body, metadata: { ...r.body.metadata, uid: current.metadata.uid } })];
    }
    if (r.method === 'PATCH') {
      if (r.contentType !== 'application/merge-patch+json') return [415, status(415, 'UnsupportedMediaType', `${r.contentType} is not served here`)];
      const patched = mergePatch(current, r.body);
      if (path.includes('/httproutes/') && this.gatewayAckMs !== undefined && JSON.stringify(patched.spec) !== JSON.stringify(current.spec)) {
        const generation = (current.metadata.generation ?? 1) + 1;
        patched.metadata = { ...patched.metadata, generation };
        setTimeout(() => this.acknowledgeRoute(path, generation), this.gatewayAckMs).unref();
      }
      return [200, this.put(path, { ...patched, metadata: { ...patched.metadata, uid: current.metadata.uid } })];
    }
    return [405, status(405, 'MethodNotAllowed', r.method)];
  }

  /** The gateway's acknowledgement of a route at `generation` (unless a newer one has been written since). */
  private acknowledgeRoute(path: string, generation: number): void {
    const route = this.objects.get(path);
    if (!route || (route.metadata.generation ?? 1) !== generation) return;
    const conditions = ['Accepted', 'ResolvedRefs'].map((type) => ({ type, status: 'True', reason: type, observedGeneration: generation, lastTransitionTime: new Date().toISOString() }));
    const parents = (route.spec?.parentRefs ?? [{ name: 'gateway' }]).map((parentRef: unknown) => ({ parentRef, controllerName: 'example.net/gateway-controller', conditions }));
    this.put(path, { ...route, status: { parents } });
  }

  /** Sets a Deployment's or StatefulSet's replicas as its controller would see them (ready after `readyDelayMs`). */
  setReplicas(path: string, replicas: number): void {
    const o = this.objects.get(path);
    const next = { ...o, spec: { ...o.spec, replicas }, status: { ...o.status, replicas } };
    if (this.readyDelayMs === 0 || replicas < (o.status?.readyReplicas ?? 0)) next.status.readyReplicas = replicas;
    this.put(path, next);
    if (this.readyDelayMs > 0) {
      setTimeout(() => {
        const now = this.objects.get(path);
        if (now && now.spec.replicas === replicas) this.put(path, { ...now, status: { ...now.status, readyReplicas: replicas, availableReplicas: replicas } });
      }, this.readyDelayMs).unref();
    }
  }
}
