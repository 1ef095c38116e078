/**
 * The one configuration of shadowscale (docs/architecture.md): parsed from YAML text and
 * validated with a schema whose errors name the file, the path of the bad field and what is expected.
 * Reading the file and secrets is the caller's business; this module is pure.
 */
import { parseDocument } from 'yaml';
import { z } from 'zod';

import { parseDuration } from './duration.ts';
import { MODEL_NAMES } from './forecast/types.ts';
import { promqlSyntaxError } from './promql.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A duration such as `30s`, `5m`, `1h30m`, read as seconds. */
const duration = z
  .string({ error: 'expected a duration such as 30s, 5m or 1h' })
  .transform((text, ctx) => {
    const seconds = parseDuration(text);
    if (seconds === undefined || seconds <= 0) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 5m or 1h, got "${text}"` });
      return z.NEVER;
    }
    return seconds;
  });

/** host:port for a listener; loopback by default in the examples, any interface allowed. */
const listenAddress = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, { message: 'expected host:port, e.g. 127.0.0.1:8080' });

/** A PromQL expression, checked with the Prometheus project's own grammar; errors give the position. */
const promql = z.string().min(1, { message: 'expected a PromQL expression' }).superRefine((text, ctx) => {
  const error = promqlSyntaxError(text);
  if (error) ctx.addIssue({ code: 'custom', message: `PromQL syntax error at ${error.position}: ${error.message}` });
});

const secretSource = {
  /** Read from this file (trailing newline stripped). */
  file: z.string().min(1).optional(),
  /** Or from this environment variable. */
  env: z.string().min(1).optional(),
};

const prometheusSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL such as http://127.0.0.1:9090' }),
    bearerTokenFile: z.string().min(1).optional(),
    bearerTokenEnv: z.string().min(1).optional(),
    basicAuth: z
      .object({ username: z.string().min(1), passwordFile: secretSource.file, passwordEnv: secretSource.env })
      .strict()
      .refine((b) => b.passwordFile !== undefined || b.passwordEnv !== undefined, { message: 'set passwordFile or passwordEnv' })
      .optional(),
    caFile: z.string().min(1).optional(),
    insecureSkipVerify: z.boolean().default(false),
    timeout: duration.default(30),
    /** Extra HTTP headers, e.g. X-Scope-OrgID for Mimir or Cortex. */
    headers: z.record(z.string(), z.string()).default({}),
  })
  .strict()
  .refine((p) => !(p.bearerTokenFile || p.bearerTokenEnv) || !p.basicAuth, { message: 'use either a bearer token or basicAuth, not both' });

const scaleTargetSchema = z
  .object({
    kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment'),
    name: z.string().min(1),
    minReplicas: z.number().int().min(0).default(1),
    maxReplicas: z.number().int().min(1),
  })
  .strict()
  .refine((t) => t.minReplicas <= t.maxReplicas, { message: 'minReplicas must not exceed maxReplicas' });

/**
 * Synthetic warm-up traffic for shadows whose mirror cannot be used (writes, stateful paths): the
 * receiver replays the shape of the primary's request mix against the shadow, at a bounded rate,
 * only for allow-listed methods and paths. Off by default.
 */
const warmupSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Base URL of the shadow (its Service), e.g. http://checkout-shadow.shop.svc:8080. */
    target: z.url({ message: 'expected the shadow\'s base URL, e.g. http://checkout-shadow.shop.svc:8080' }).optional(),
    /** Methods that may be replayed. */
    methods: z.array(z.enum(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'])).min(1).default(['GET', 'HEAD']),
    /** Methods that change state (POST, PUT, PATCH, DELETE) are replayed only with this set as well. */
    unsafeMethods: z.boolean().default(false),
    /** Paths that may be replayed: regular expressions, matched against the whole path. */
    paths: z
      .array(
        z.string().refine(
          (p) => {
            try {
              new RegExp(p);
              return true;
            } catch {
              return false;
            }
          },
          { message: 'expected a regular expression' },
        ),
      )
      .default([]),
    /** Upper bound of the replayed rate, requests per second. */
    maxRps: z.number().positive().max(1000).default(5),
    /** Share of the primary's rate to replay (default: the shadow's mirrorPercent). */
    share: z.number().gt(0).max(1).optional(),
    /** PromQL giving the primary's request rate by `method` and `path` (default: from http_requests_total). */
    mix: promql.optional(),
    /** A recorded sample of requests, one `METHOD /path` per line, used when the query gives nothing. */
    sample: z.string().min(1).optional(),
    /** How often the mix is read again. */
    refresh: duration.default(60),
    /** Per-request timeout. */
    timeout: duration.default(5),
  })
  .strict()
  .refine((w) => !w.enabled || (w.target !== undefined && w.paths.length > 0), { message: 'an enabled warmup needs target and at least one allowed path (paths)' })
  .refine((w) => w.unsafeMethods || w.methods.every((m) => m === 'GET' || m === 'HEAD' || m === 'OPTIONS'), {
    message: 'methods that change state (POST, PUT, PATCH, DELETE) replay writes against the shadow; set unsafeMethods: true as well to allow them',
    path: ['methods'],
  });

const shadowSchema = z
  .object({
    kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment'),
    name: z.string().min(1),
    minReplicas: z.number().int().min(0).default(1),
    maxReplicas: z.number().int().min(0),
    /** Share of the primary's requests mirrored to the shadows, in percent. */
    mirrorPercent: z.number().min(0).max(100).default(10),
    /** Resources of a shadow replica as a fraction of a primary replica's. */
    resourceFraction: z.number().gt(0).max(1).default(0.5),
    /** When a shadow counts as ready to be promoted (exported as shadowscale_workload_bound for the rules). */
    readiness: z
      .object({
        /** Shadow p99 latency ÷ primary p99 latency at most this. */
        latencyRatioMax: z.number().positive().default(1.5),
        /** Shadow error ratio minus primary error ratio at most this. */
        errorRatioDiffMax: z.number().min(0).max(1).default(0.01),
        /** Mirror coverage may differ from mirrorPercent by this fraction of it. */
        coverageTolerance: z.number().min(0).max(1).default(0.5),
      })
      .strict()
      .default({ latencyRatioMax: 1.5, errorRatioDiffMax: 0.01, coverageTolerance: 0.5 }),
    warmup: warmupSchema.optional(),
  })
  .strict()
  .refine((t) => t.minReplicas <= t.maxReplicas, { message: 'minReplicas must not exceed maxReplicas' });

const workloadSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'expected a Kubernetes name (lower case, digits, -)' }),
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'expected a Kubernetes namespace name' }),
    /**
     * PromQL returning one series: the workload's load (e.g. requests per second). Absent: the
     * recorded served load, `shadowscale:load:rate1m`, i.e. the requests of whichever Deployment
     * serves, mirror copies excluded (see defaultLoadQuery).
     */
    load: promql.optional(),
    /** Load one ready replica serves within its SLO, in the unit of `load`. */
    capacityPerReplica: z.number().positive({ message: 'expected a positive number (load one replica serves)' }),
    /** Start-up time of a new replica; the forecast horizon is at least this. */
    provisioningLag: duration.default(120),
    model: z.enum(['auto', ...MODEL_NAMES]).default('auto'),
    /**
     * Seasonal periods of the load (e.g. [1d, 7d]); absent: the hour, day and week are tested on the
     * history and kept when they show. Set it when the load's cycles are not calendar ones (a batch
     * every 6 h; a replayed trace in compressed time).
     */
    seasonality: z.array(duration).min(1).max(3).optional(),
    /** Forecast horizon; defaults to the provisioning lag. */
    horizon: duration.optional(),
    /** Overrides of adapter.history / step / refresh for this workload. */
    history: duration.optional(),
    step: duration.optional(),
    refresh: duration.optional(),
    /**
     * `plan: anchored`: the headroom the plan keeps above the load: the `quantile` of how far the load rose within one
     * provisioning lag (plus how late the adapter sees it) over the last day. Higher: fewer unserved
     * requests on a jump, more replicas all the time.
     */
    headroomQuantile: z.number().gt(0).lt(1).default(0.9),
    /**
     * How the planned load is made. `level` (default): the larger of the load now and the forecast's
     * peak over the provisioning lag, divided by `targetUtilization`. `anchored`: the load now, plus
     * the rise the forecast expects over the lag, plus the learned headroom (`headroomQuantile`).
     */
    plan: z.enum(['level', 'anchored']).default('level'),
    /** `plan: level`: the share of the serving capacity the planned load may use, as an HPA's utilisation target. */
    targetUtilization: z.number().gt(0).max(1).default(0.8),
    /** The primary's SLO: beyond it the primary counts as degraded (ShadowscalePrimaryDegraded). */
    slo: z
      .object({
        latencyP99: duration.default(0.5),
        errorRatio: z.number().min(0).max(1).default(0.01),
        /**
         * Requests per second (over 5 minutes) below which a set's error ratio and latency are not
         * judged: at 0.1 req/s one 503 is a 3 % error ratio, and a p99 is its 3rd-slowest request.
         */
        minRequestRate: z.number().min(0).default(1),
      })
      .strict()
      .default({ latencyP99: 0.5, errorRatio: 0.01, minRequestRate: 1 }),
    /** |z-score| of the load against the same time on previous days beyond which it is an anomaly. */
    anomalyZScore: z.number().positive().default(3),
    /** Forecast accuracy over the last day below which ShadowscaleForecastInaccurate fires. */
    accuracy: z
      .object({ relativeErrorMax: z.number().positive().default(0.5), coverage95Min: z.number().min(0).max(1).default(0.8) })
      .strict()
      .default({ relativeErrorMax: 0.5, coverage95Min: 0.8 }),
    /** Forecast-only: compute and export everything, but serve the reactive value as desired replicas. */
    dryRun: z.boolean().default(false),
    primary: scaleTargetSchema,
    shadow: shadowSchema.optional(),
    /** Per-workload switch of the receiver: false = alerts are recorded and audited, nothing is changed. */
    actions: z.boolean().default(true),
    /** The autoscaler that scales the serving set; the receiver raises its floor and retargets it on a swap. */
    autoscaler: z
      .object({
        kind: z.enum(['HorizontalPodAutoscaler', 'ScaledObject', 'None']).default('HorizontalPodAutoscaler'),
        /** Defaults to the primary's name. */
        name: z.string().min(1).optional(),
      })
      .strict()
      .default({ kind: 'HorizontalPodAutoscaler' }),
    /** What sends traffic to the serving set and the mirror to the shadows; needed for a promotion. */
    router: z
      .discriminatedUnion('kind', [
        z
          .object({
            kind: z.literal('HTTPRoute'),
            name: z.string().min(1),
            /** Index of the rule in spec.rules whose backends and RequestMirror filter are managed. */
            rule: z.number().int().min(0).default(0),
            port: z.number().int().min(1).max(65535),
            /** Services in front of each set; default to the sets' names. */
            primaryService: z.string().min(1).optional(),
            shadowService: z.string().min(1).optional(),
          })
          .strict(),
        z
          .object({
            kind: z.literal('VirtualService'),
            name: z.string().min(1),
            /** Index of the HTTP route in spec.http whose destinations and mirror are managed. */
            route: z.number().int().min(0).default(0),
            /** Destination port; absent: the route's own. */
            port: z.number().int().min(1).max(65535).optional(),
            /** Destination hosts (Services) of each set; default to the sets' names. */
            primaryHost: z.string().min(1).optional(),
            shadowHost: z.string().min(1).optional(),
          })
          .strict(),
        z
          .object({
            kind: z.literal('Service'),
            /** The Service clients call; its selector is switched to the serving set's pods. */
            name: z.string().min(1),
            /** The pod label whose value tells the sets apart, and its value in each set. */
            selectorKey: z.string().min(1),
            primaryValue: z.string().min(1),
            shadowValue: z.string().min(1),
          })
          .strict(),
        z.object({ kind: z.literal('None') }).strict(),
      ])
      .default({ kind: 'None' }),
  })
  .strict()
  .transform((w) => ({ ...w, load: w.load ?? defaultLoadQuery(w) }));

/** The load of a workload whose configuration names none: its recorded served load. */
export function defaultLoadQuery(w: { namespace: string; name: string }): string {
  return `sum(shadowscale:load:rate1m{namespace=${JSON.stringify(w.namespace)},workload=${JSON.stringify(w.name)}})`;
}

/** Who may scrape a service's /metrics: anyone, or a bearer token the cluster authenticates and authorizes (TokenReview, SubjectAccessReview). */
const metricsAuthentication = z.enum(['none', 'kubernetes']).default('none');

const adapterSchema = z
  .object({
    listen: z
      .object({ http: listenAddress.default('127.0.0.1:8080'), https: listenAddress.optional(), grpc: listenAddress.optional() })
      .strict()
      .default({ http: '127.0.0.1:8080' }),
    tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).strict().optional(),
    /**
     * TLS of the KEDA gRPC listener (listen.grpc): its certificate and key, and with clientCAFile only
     * clients with a certificate that CA signed (KEDA's trigger `caCert`, `tlsClientCert`, `tlsClientKey`).
     */
    grpcTls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1), clientCAFile: z.string().min(1).optional() }).strict().optional(),
    /**
     * Who may call the external metrics API (HPA mode): `requestHeader: cluster` reads the front
     * proxy's CA and allowed names from kube-system/extension-apiserver-authentication (as every
     * aggregated API server does) and answers /apis/ only on HTTPS, only to a client certificate
     * signed by that CA with an allowed common name; `file` takes them from here; `none` (default)
     * answers anyone (local use, tests, the demo).
     */
    authentication: z
      .object({
        requestHeader: z.enum(['none', 'file', 'cluster']).default('none'),
        clientCAFile: z.string().min(1).optional(),
        allowedNames: z.array(z.string().min(1)).default([]),
        /**
         * With requestHeader on: `subjectAccessReview` (default) asks the cluster whether the user the
         * front proxy names may `list` the metric in the namespace (RBAC on external.metrics.k8s.io, as
         * the HPA controller's role grants); `none` trusts every request the front proxy passes on.
         */
        authorization: z.enum(['subjectAccessReview', 'none']).default('subjectAccessReview'),
        /**
         * A bearer token that the REST endpoints (/predict/capacity, /shadow/*, and KEDA's metrics-api
         * /keda/metrics, `authMode: bearer`) require, from a file or an environment variable. Probes,
         * /metrics and the external metrics API are not affected.
         */
        tokenFile: z.string().min(1).optional(),
        tokenEnv: z.string().min(1).optional(),
        /** Who may scrape /metrics: anyone (`none`), or (`kubernetes`) a bearer token a TokenReview accepts whose user may `get` the non-resource URL /metrics. */
        metrics: metricsAuthentication,
      })
      .strict()
      .refine((a) => a.requestHeader !== 'file' || a.clientCAFile !== undefined, { message: 'requestHeader: file needs clientCAFile' })
      .default({ requestHeader: 'none', allowedNames: [], authorization: 'subjectAccessReview', metrics: 'none' }),
    history: duration.default(14 * 86_400),
    step: duration.default(60),
    refresh: duration.default(60),
    /** How long a forecast is served after its last successful refresh before the reactive value takes over. */
    forecastTTL: duration.default(600),
    /**
     * How often the current load is read (one instant query per workload), between the forecast's
     * refreshes: the plan is the load now plus what is coming, so the load must be as fresh as the
     * HPA's own metric would be. `off`: the last step of the refreshed history only.
     */
    observe: z.union([z.literal('off'), duration]).default(15),
    /**
     * Workloads fitted at once (each fit runs in a worker thread, at most 8); `auto`: one per CPU this
     * process may use (its container's CPU limit included).
     */
    concurrency: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto'),
    /** Random delay added to each refresh, as a fraction of the interval, so workloads do not refresh in step. */
    jitter: z.number().min(0).max(1).default(0.1),
    autoCandidates: z.array(z.enum(MODEL_NAMES)).min(1).optional(),
  })
  .strict();

const leaderElectionSchema = z
  .object({
    enabled: z.boolean().default(false),
    /**
     * Where the Lease and the state ConfigMaps live. Absent: the receiver's own namespace (the pod's
     * $POD_NAMESPACE, or its ServiceAccount's namespace file), so the namespace is set in one place.
     */
    namespace: z.string().min(1).optional(),
    name: z.string().min(1).default('shadowscale-receiver'),
    /** This replica's identity; defaults to $HOSTNAME (the pod name). */
    identity: z.string().min(1).optional(),
    /** host:port at which the other replicas reach this one; followers forward webhooks there. Default: $POD_IP and the listen port. */
    advertise: listenAddress.optional(),
    leaseDuration: duration.default(15),
    retryPeriod: duration.default(2),
  })
  .strict()
  .refine((l) => l.retryPeriod < l.leaseDuration, { message: 'retryPeriod must be shorter than leaseDuration' });

const receiverSchema = z
  .object({
    listen: listenAddress.default('127.0.0.1:8081'),
    tokenFile: z.string().min(1).optional(),
    tokenEnv: z.string().min(1).optional(),
    /** Who may scrape /metrics (as adapter.authentication.metrics). */
    metricsAuthentication: metricsAuthentication,
    /**
     * Serve HTTPS with this certificate (reloaded when the files change); followers then forward
     * webhooks to the leader over TLS too, checking its certificate against `caFile` (default: the
     * system's CAs) for `serverName` (default: the leader's address; set the receiver Service's DNS
     * name when the certificate names the Service, not the pod IPs).
     */
    tls: z
      .object({ certFile: z.string().min(1), keyFile: z.string().min(1), caFile: z.string().min(1).optional(), serverName: z.string().min(1).optional() })
      .strict()
      .optional(),
    /** Log, audit and export what would be done; change nothing. */
    dryRun: z.boolean().default(false),
    /** Where the receiver acts: the Kubernetes API, or a local pool of processes (demo, end-to-end tests). */
    target: z.enum(['kubernetes', 'local']).default('kubernetes'),
    /** Largest webhook body accepted, in bytes. */
    maxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    /** After the last prescale or promote alert resolves, floors, pools and roles return after this. */
    cooldown: duration.default(300),
    /** The longest a prescale keeps the HPA floor and the pool raised while its alert keeps firing. */
    prescaleMax: duration.default(3600),
    /** Minimum time between two role changes (promotion, revert) of a workload. */
    minHold: duration.default(600),
    /**
     * After traffic moves, how long the old set keeps its replicas and the autoscaler its target: the
     * time the data plane takes to drain connections to the old set (counted from the route write; the
     * router's own acknowledgement, where it gives one, is waited for as well).
     */
    drain: duration.default(15),
    maxRoleChangesPerHour: z.number().int().min(1).max(60).default(2),
    /** How often every workload is reconciled even without a webhook (cooldowns, readiness, drift). */
    resync: duration.default(15),
    /**
     * How often the leader reads every workload's plan and shadow readiness from Prometheus (three
     * queries for the fleet), so that a webhook's reconciliation finds them instead of waiting for a
     * query; `off`: read when a webhook needs them.
     */
    signalRefresh: z.union([z.literal('off'), duration.refine((s) => s > 0, { message: 'must be positive' })]).default(5),
    /**
     * Spill-over (core/promotion/spill.ts): while a workload's serving set is short of what the plan
     * expects (its new replicas still starting), its HTTPRoute sends a share of live traffic to the
     * ready shadows, the mirror suspended meanwhile; the share goes back as the serving set catches up.
     * Decided by the leader every `every`, written at most once a `hold`. On by default (it leaves less
     * unserved than the swap alone on every replayed trace, at the same cost); a Service router cannot
     * split and is left out.
     */
    spill: z
      .object({
        enabled: z.boolean().default(true),
        every: duration.refine((s) => s > 0, { message: 'must be positive' }).default(5),
        hold: duration.default(30),
        /** Below one half, so that the serving set keeps the larger share (and its role, for the rules). */
        maxShare: z.number().gt(0).lt(0.5).default(0.45),
        maxStep: z.number().gt(0).max(1).default(0.1),
        hysteresis: z.number().min(0).max(0.5).default(0.05),
      })
      .strict()
      .default({ enabled: true, every: 5, hold: 30, maxShare: 0.45, maxStep: 0.1, hysteresis: 0.05 }),
    /** JSON-lines audit log; absent: standard output. */
    auditFile: z.string().min(1).optional(),
    /** Where the receiver keeps its memory of alerts and role changes (local target; Kubernetes uses a ConfigMap). */
    stateFile: z.string().min(1).optional(),
    kubernetes: z
      .object({
        /** Prefix of the ConfigMaps holding the receiver's memory (one per workload: <prefix>-<namespace>-<name>), in the receiver's namespace (leaderElection.namespace). */
        stateConfigMap: z.string().min(1).default('shadowscale-receiver-state'),
        requestTimeout: duration.default(10),
        /** Retries of a 409 or 5xx answer, with exponential backoff. */
        retries: z.number().int().min(0).max(10).default(4),
        /**
         * Observe the workloads' Deployments, StatefulSets and HPAs from informers (list + watch per
         * namespace) instead of reading them at each reconciliation; false: read them each time.
         */
        watch: z.boolean().default(true),
      })
      .strict()
      .default({ stateConfigMap: 'shadowscale-receiver-state', requestTimeout: 10, retries: 4, watch: true }),
    /** Shadow provisioning: primaries annotated shadowscale.io/shadows get a shadow Deployment, Service and mirror. */
    provisioning: z
      .object({
        enabled: z.boolean().default(false),
        /**
         * Namespaces whose Deployments are watched; empty: the namespaces labelled
         * shadowscale.io/provisioning=enabled (never all by default: a namespace's owners invite it).
         */
        namespaces: z.array(z.string().min(1)).default([]),
        interval: duration.default(30),
      })
      .strict()
      .default({ enabled: false, namespaces: [], interval: 30 }),
    leaderElection: leaderElectionSchema.default({ enabled: false, name: 'shadowscale-receiver', leaseDuration: 15, retryPeriod: 2 }),
  })
  .strict()
  .refine((r) => !(r.tokenFile && r.tokenEnv), { message: 'use either tokenFile or tokenEnv, not both' });

export const configSchema = z
  .object({
    prometheus: prometheusSchema,
    adapter: adapterSchema.default(adapterSchema.parse({})),
    receiver: receiverSchema.optional(),
    workloads: z.array(workloadSchema).min(1, { message: 'expected at least one workload' }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.workloads.forEach((w, i) => {
      const key = `${w.namespace}/${w.name}`;
      const previous = seen.get(key);
      if (previous !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['workloads', i, 'name'], message: `workload ${key} is already defined at workloads[${previous}]` });
      }
      seen.set(key, i);
    });
  });

export type Config = z.output<typeof configSchema>;
export type WorkloadConfig = Config['workloads'][number];
export type ReceiverConfig = z.output<typeof receiverSchema>;

/** The receiver's settings with every default filled in (for a configuration without a receiver section). */
export const defaultReceiverConfig = (): ReceiverConfig => receiverSchema.parse({});

/** Parses and validates the YAML text of a configuration; `source` names it in errors. */
export function parseConfig(text: string, source = 'config'): Config {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    const e = document.errors[0];
    const where = e.linePos ? `:${e.linePos[0].line}:${e.linePos[0].col}` : '';
    throw new ConfigError(`${source}${where}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const result = configSchema.safeParse(document.toJS());
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `${source}: ${formatPath(issue.path)}: ${issue.message}`);
    throw new ConfigError(lines.join('\n'));
  }
  return result.data;
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** The effective per-workload settings: workload overrides, then the adapter's defaults. */
export function workloadTiming(config: Config, w: WorkloadConfig) {
  const step = w.step ?? config.adapter.step;
  const horizonSeconds = Math.max(w.horizon ?? 0, w.provisioningLag);
  return {
    stepSeconds: step,
    historySeconds: w.history ?? config.adapter.history,
    refreshSeconds: w.refresh ?? config.adapter.refresh,
    horizonSeconds,
    /** Horizon in steps, at least one. */
    horizonSteps: Math.max(1, Math.ceil(horizonSeconds / step)),
  };
}

/** The one key of a workload, everywhere (the adapter's state, the receiver's memory, caches, status): `namespace/name`. */
export function workloadKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
