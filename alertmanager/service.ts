/**
 * Wires the receiver together from the one configuration: token, state store, signals from
 * Prometheus, the target (Kubernetes or local processes), leader election, audit log, metrics and the
 * webhook server. `shadowscale receiver` is a thin shell over `startReceiver`.
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';

import { pino, type Logger } from 'pino';

import { defaultReceiverConfig, workloadKey, type Config, type ReceiverConfig, type WorkloadConfig } from '../core/config.ts';
import { readTlsFiles, reloadOnChange, TlsFileError } from '../platform/tls.ts';
import { requireMetricsReader, subjectAccessReviewer, tokenReviewer } from '../platform/kube-auth.ts';
import { prometheusClientFromConfig } from '../platform/prometheus.ts';
import { readSecret, SecretError } from '../platform/secrets.ts';
import { splitAddress } from '../platform/net.ts';
import { createAudit, type Audit } from './audit.ts';
import { LocalWorkloadCluster, type LocalClusterOptions } from '../actuators/local/cluster.ts';
import { createReceiverMetrics, type ReceiverMetrics } from './metrics.ts';
import { canSplit, NotLeader, Receiver } from './receiver.ts';
import { ALWAYS_LEADER, serveWebhook, webhookApp, type Leadership } from './server.ts';
import { PrometheusSignals, type SignalSource } from './signals.ts';
import { FileStore, InMemoryStore, type MemoryStore } from './store.ts';
import type { WorkloadCluster } from '../actuators/target.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { createKubeApis, defaultKubeConfig, type KubeApis, podNamespace } from '../platform/kubernetes.ts';
import { kubernetesCluster } from '../actuators/kubernetes/cluster.ts';
import { WatchCache } from '../actuators/kubernetes/watch-cache.ts';
import { LeaseElector } from './lease.ts';
import { ConfigMapStore } from './configmap-store.ts';
import { WarmPool } from '../provisioner/pool.ts';
import { WarmupGenerator, warmupMetrics } from './warmup.ts';
import { ShadowProvisioner } from '../provisioner/provisioner.ts';

export interface ReceiverOptions {
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  audit?: Audit;
  /** Overrides of the parts built from the configuration (tests, the demo). */
  store?: MemoryStore;
  signals?: SignalSource;
  cluster?: (w: WorkloadConfig) => WorkloadCluster;
  leadership?: Leadership & { start?(): Promise<void> | void; stop?(): Promise<void> | void };
  /** Options of the local target's pools and proxies, per workload key (`namespace.name`). */
  local?: (w: WorkloadConfig) => LocalClusterOptions;
  /** The Kubernetes API to use instead of KUBECONFIG / in-cluster credentials. */
  kubeConfig?: KubeConfig;
  now?: () => number;
  /** Do not reconcile at start and on a timer (tests that drive it by hand). */
  noResync?: boolean;
  /** How often the certificate files are checked for a renewal (receiver.tls); default 30 s. */
  tlsReloadMs?: number;
}

export interface RunningReceiver {
  url: string;
  receiver: Receiver;
  metrics: ReceiverMetrics;
  server: http.Server | https.Server;
  localClusters: Map<string, LocalWorkloadCluster>;
  stop(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function receiverToken(r: ReceiverConfig, env: NodeJS.ProcessEnv): string | undefined {
  const token = readSecret('receiver token', r.tokenFile, r.tokenEnv, env);
  if (token === '') throw new SecretError('receiver token: the token is empty');
  if (token === undefined && !LOOPBACK.has(splitAddress(r.listen).host)) {
    throw new SecretError(`receiver: listening on ${r.listen} without a token; set receiver.tokenFile or receiver.tokenEnv (only loopback listeners may go without)`);
  }
  return token;
}

export async function startReceiver(config: Config, options: ReceiverOptions = {}): Promise<RunningReceiver> {
  const r = config.receiver ?? defaultReceiverConfig();
  const env = options.env ?? process.env;
  const logger = options.logger ?? pino({ name: 'shadowscale-receiver' });
  const token = receiverToken(r, env);
  // Settings that cannot work together fail before anything is started.
  if (r.provisioning.enabled && r.target !== 'kubernetes') throw new Error('receiver.provisioning needs receiver.target kubernetes');
  if (r.leaderElection.enabled && r.target !== 'kubernetes' && !options.leadership) throw new Error('receiver.leaderElection needs receiver.target kubernetes (it uses a Lease)');
  const metrics = createReceiverMetrics(r.dryRun);
  const audit = options.audit ?? createAudit(r.auditFile);
  const localClusters = new Map<string, LocalWorkloadCluster>();

  let cluster = options.cluster;
  if (!cluster && r.target === 'local') {
    for (const w of config.workloads) {
      if (w.shadow) localClusters.set(workloadKey(w.namespace, w.name), await LocalWorkloadCluster.start(w, options.local?.(w)));
    }
    cluster = (w) => localClusters.get(workloadKey(w.namespace, w.name))!;
  }
  let kubeConfig: KubeConfig | undefined;
  const kube = () => (kubeConfig ??= options.kubeConfig ?? defaultKubeConfig());
  let apis: KubeApis | undefined;
  if (!cluster || (!options.store && !r.stateFile) || (r.leaderElection.enabled && !options.leadership) || r.provisioning.enabled) {
    if (r.target === 'kubernetes') {
      apis = createKubeApis(kube(), { timeoutMs: r.kubernetes.requestTimeout * 1000, retries: r.kubernetes.retries });
    }
  }
  // Informers of what the reconciliations observe, started for the configured workloads now, so that the
  // first webhook finds them listed (every replica runs them: a new leader starts with them warm).
  let watchCache: WatchCache | undefined;
  if (!cluster && apis && r.kubernetes.watch) {
    const failing = new Set<string>();
    watchCache = new WatchCache(apis, kube(), {
      onError: (what, error) => {
        if (error && !failing.has(what)) logger.warn({ err: error }, `${what} failed; reading those objects at each reconciliation until it works again`);
        else if (!error && failing.has(what)) logger.info(`${what} works again`);
        if (error) failing.add(what);
        else failing.delete(what);
      },
    });
    for (const w of config.workloads) {
      if (!w.shadow) continue;
      for (const kind of new Set([w.primary.kind, w.shadow.kind])) watchCache.start(kind, w.namespace);
      if (w.autoscaler.kind === 'HorizontalPodAutoscaler') watchCache.start('HorizontalPodAutoscaler', w.namespace);
    }
  }
  if (!cluster) cluster = (w) => kubernetesCluster(apis!, w, watchCache);
  const ownNamespace = r.leaderElection.namespace ?? (apis ? podNamespace(env, kube()) : 'default');
  const store =
    options.store ??
    (r.stateFile ? new FileStore(r.stateFile) : apis ? new ConfigMapStore(apis, ownNamespace, r.kubernetes.stateConfigMap) : new InMemoryStore());
  const signals = options.signals ?? new PrometheusSignals(prometheusClientFromConfig(config, env));
  // The leader reads every workload's memory in one list, rather than one read at each first webhook.
  const primeMemory = () => {
    if (!(store instanceof ConfigMapStore)) return;
    store.prime(config.workloads.map((w) => workloadKey(w.namespace, w.name))).then(
      (found) => logger.debug({ found }, 'memory of the workloads read'),
      (error) => logger.warn({ err: error }, 'reading the memory of the workloads in one list failed; each is read at its first webhook'),
    );
  };
  let leadership: NonNullable<ReceiverOptions['leadership']> = options.leadership ?? ALWAYS_LEADER;
  if (!options.leadership && r.leaderElection.enabled) {
    const le = r.leaderElection;
    const identity = le.identity ?? env.HOSTNAME;
    if (!identity) throw new Error('receiver.leaderElection: set identity, or run where $HOSTNAME is set (the pod name)');
    leadership = new LeaseElector(
      apis!,
      {
        namespace: ownNamespace,
        name: le.name,
        identity,
        advertise: le.advertise ?? (env.POD_IP ? `${env.POD_IP}:${splitAddress(r.listen).port}` : undefined),
        leaseDurationSeconds: le.leaseDuration,
        retryPeriodSeconds: le.retryPeriod,
        // Webhooks (and their bearer token) go only to the address the leader's own Pod confirms.
        confirmPort: Number(splitAddress(le.advertise ?? r.listen).port),
      },
      (leading) => {
        metrics.leader(leading);
        // A new leader reads the intent afresh: the old leader may have written since this replica last looked.
        if (store instanceof ConfigMapStore) store.invalidate();
        if (leading) primeMemory();
        logger.info({ identity, leading }, leading ? 'became the leader' : 'following');
      },
    );
  }
  const receiver = new Receiver({ config, receiver: r, store, signals, cluster, audit, metrics, now: options.now, isLeader: () => leadership.isLeader() });

  const tlsMaterial = r.tls ? readTlsFiles(r.tls, 'receiver.tls') : undefined;
  let forwardCa: string | undefined;
  if (r.tls?.caFile) {
    try {
      forwardCa = readFileSync(r.tls.caFile, 'utf8');
    } catch (error) {
      throw new TlsFileError(`receiver.tls.caFile: cannot read ${r.tls.caFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  let metricsReader;
  if (r.metricsAuthentication === 'kubernetes') {
    const reviews = apis ?? createKubeApis(kube(), { timeoutMs: r.kubernetes.requestTimeout * 1000, retries: r.kubernetes.retries });
    metricsReader = requireMetricsReader(tokenReviewer(reviews), subjectAccessReviewer(reviews), 'shadowscale-receiver');
  }
  const app = webhookApp({
    metricsReader,
    ...(r.tls ? { forwardTls: { ...(forwardCa ? { ca: forwardCa } : {}), ...(r.tls.serverName ? { serverName: r.tls.serverName } : {}) } } : {}),
    receiver,
    metrics,
    logger,
    token,
    maxBodyBytes: r.maxBodyBytes,
    leadership,
    status: () => Object.fromEntries(config.workloads.map((w) => [workloadKey(w.namespace, w.name), receiver.desired(workloadKey(w.namespace, w.name)) ?? null])),
  });
  const { server, address } = await serveWebhook(app, r.listen, tlsMaterial);
  const stopReload = r.tls && server instanceof https.Server ? reloadOnChange(server, r.tls, 'receiver.tls', (error) => (error ? logger.warn({ err: error }, 'renewed certificate not loaded; serving the previous one') : logger.info('certificate reloaded')), { intervalMs: options.tlsReloadMs }) : undefined;
  await leadership.start?.();
  if (leadership === ALWAYS_LEADER) primeMemory();
  // Shadow provisioning runs on the leader, on its own interval.
  let provisionTimer: NodeJS.Timeout | undefined;
  // In dry-run mode nothing is created either.
  let provisioning = r.provisioning.enabled && !r.dryRun;
  if (provisioning && apis) {
    // The warm pool and the receiver share each workload's lock and one notion of the shadow's size:
    // the pool changes it only while the receiver has nothing to act on, within the receiver's bounds.
    // Both only write while this replica leads.
    const fence = (before: string) => {
      if (!leadership.isLeader()) throw new NotLeader(`no longer the leader, stopped before ${before}`);
    };
    const receiverWorkload = (namespace: string, deployment: string) => config.workloads.find((w) => w.namespace === namespace && w.primary.name === deployment);
    const pool = new WarmPool(apis, audit, {
      receiver: (namespace, deployment) => receiver.poolView(namespace, deployment),
      exclusive: (namespace, deployment, fn) => receiver.exclusive(namespace, deployment, fn),
      fence,
      riseExpected: signals instanceof PrometheusSignals ? (namespace, deployment, replicas) => signals.riseExpected(namespace, receiverWorkload(namespace, deployment)?.name ?? deployment, replicas) : undefined,
    });
    const provisioner = new ShadowProvisioner(apis, r.provisioning.namespaces, audit, pool, fence);
    const pass = async () => {
      if (leadership.isLeader()) {
        const report = await provisioner.syncOnce();
        if (report.created.length + report.updated.length + report.moved.length + report.aborted.length + report.errors.length > 0) logger.info(report, 'shadow provisioning pass');
      }
      if (!provisioning) return;
      provisionTimer = setTimeout(() => void pass(), r.provisioning.interval * 1000);
      provisionTimer.unref();
    };
    void pass();
  }
  // Synthetic warm-up traffic, for the shadows that ask for it, sent by the leader only.
  const warmups: WarmupGenerator[] = [];
  const warmupTargets = config.workloads.filter((w) => w.shadow?.warmup?.enabled);
  if (warmupTargets.length > 0) {
    const wm = warmupMetrics(metrics.registry);
    const prometheus = prometheusClientFromConfig(config, env);
    for (const w of warmupTargets) {
      const g = new WarmupGenerator(w, w.shadow!.warmup!, prometheus, wm, (message) => audit.record({ event: 'error', namespace: w.namespace, workload: w.name, error: message }), () => leadership.isLeader() && !r.dryRun);
      warmups.push(g);
      await g.start();
    }
  }
  metrics.leader(leadership.isLeader());
  if (signals instanceof PrometheusSignals && r.signalRefresh !== 'off') {
    let failing = false;
    signals.startRefresh(config.workloads, {
      refreshMs: r.signalRefresh * 1000,
      // The loads only when some workload can spill (two more queries at each refresh otherwise).
      loads: r.spill.enabled && config.workloads.some((w) => canSplit(w, r.target)),
      active: () => leadership.isLeader(),
      // Logged when it starts and stops failing, not at every refresh: the reads fall back to one per webhook.
      onError: (error) => {
        if (!failing) logger.warn({ err: error }, 'reading the signals of every workload failed; reading them per webhook until it works again');
        failing = true;
      },
      onSuccess: () => {
        if (failing) logger.info('reading the signals of every workload works again');
        failing = false;
      },
    });
  }
  if (!options.noResync) receiver.start();
  // Spill-over decides on its own clock (not only on alerts), even without the periodic resync.
  receiver.startSpill();
  logger.info({ listen: address, target: r.target, dryRun: r.dryRun, workloads: config.workloads.length, localProxies: [...localClusters].map(([k, c]) => `${k}=${c.proxy.address}`) }, 'shadowscale receiver listening');

  return {
    url: `${r.tls ? 'https' : 'http'}://${address}`,
    receiver,
    metrics,
    server,
    localClusters,
    async stop() {
      provisioning = false;
      clearTimeout(provisionTimer);
      for (const g of warmups) g.stop();
      stopReload?.();
      receiver.stop();
      if (signals instanceof PrometheusSignals) signals.stopRefresh();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      // The Lease is released only once the work in flight has stopped: a follower taking over must
      // not act while this replica still writes.
      await receiver.idle();
      await leadership.stop?.();
      await watchCache?.stop();
      await Promise.all([...localClusters.values()].map((c) => c.close()));
    },
  };
}
