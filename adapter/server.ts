/**
 * Puts the adapter together: Prometheus client, fit workers, forecast loop, metrics, and the three
 * listeners (HTTP for /metrics, REST and KEDA's metrics-api; HTTPS for the aggregated
 * external-metrics API; gRPC for KEDA's external scaler).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { AuthenticationConfigError, loadFrontProxyTrust, requireFrontProxy } from './authn.ts';
import { requireMetricsReader, subjectAccessReviewer, tokenReviewer } from '../platform/kube-auth.ts';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Server as GrpcServer } from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import { generate } from 'selfsigned';

import type { Config } from '../core/config.ts';
import { createKubeApis } from '../platform/kubernetes.ts';
import { listen, splitAddress } from '../platform/net.ts';
import { prometheusClientFromConfig } from '../platform/prometheus.ts';
import { readSecret, SecretError } from '../platform/secrets.ts';
import { readTlsFiles, reloadOnChange } from '../platform/tls.ts';
import { createFitPool, FIT_NICE_INCREMENT, type FitPool } from './fit-pool.ts';
import { ForecastLoop } from './forecast-loop.ts';
import { externalMetricsRouter, externalMetricValues } from './external-metrics.ts';
import { sendStatus } from './status.ts';
import { startKedaServer } from './keda.ts';
import { tokenMatches } from '../core/bearer.ts';
import { createAdapterMetrics, writeChunks } from './metrics.ts';
import { restRouter } from './rest.ts';
import { usableCpus } from '../platform/cpus.ts';

export interface AdapterOptions {
  logger?: Logger;
  /** Skip the first full refresh (tests that want to see the cold ladder). */
  noWarmup?: boolean;
  /** Resolve only once the first refresh round is done (default true; the CLI does not wait). */
  waitForWarmup?: boolean;
  /** Environment for `*Env` secret sources (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Clock in unix ms (tests freeze it to compare with offline computations). */
  now?: () => number;
  /** The Kubernetes API for `adapter.authentication.requestHeader: cluster` (default: KUBECONFIG / in-cluster). */
  kubeConfig?: KubeConfig;
  /** How often the serving certificate's files are checked for a renewal (adapter.tls); default 30 s. */
  tlsReloadMs?: number;
}

export interface RunningAdapter {
  loop: ForecastLoop;
  httpUrl: string;
  httpsUrl?: string;
  grpcAddress?: string;
  /** PEM of the serving certificate (self-signed when none was configured). */
  certificate?: string;
  stop(): Promise<void>;
}






async function tlsMaterial(config: Config): Promise<{ cert: string; key: string }> {
  const tls = config.adapter.tls;
  if (tls) {
    return readTlsFiles(tls, 'adapter.tls');
  }
  // For local use only: the APIService then needs insecureSkipTLSVerify or this cert as caBundle.
  const pems = await generate([{ name: 'commonName', value: 'shadowscale-adapter' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  });
  return { cert: pems.cert, key: pems.private };
}

export async function startAdapter(config: Config, options: AdapterOptions = {}): Promise<RunningAdapter> {
  const logger = options.logger ?? pino({ name: 'shadowscale-adapter' });
  // Who may read the external metrics API is settled before anything listens.
  const trust = await loadFrontProxyTrust(config, options.kubeConfig);
  if (trust && !config.adapter.listen.https) throw new AuthenticationConfigError('adapter.authentication.requestHeader needs adapter.listen.https (the API server calls the adapter over HTTPS)');
  const kubeConfig = (setting: string): KubeConfig => {
    if (options.kubeConfig) return options.kubeConfig;
    try {
      const kc = new KubeConfig();
      kc.loadFromDefault();
      return kc;
    } catch (error) {
      throw new AuthenticationConfigError(`${setting} needs the Kubernetes API (in-cluster credentials or KUBECONFIG): ${(error as Error).message}`);
    }
  };
  let authorizer;
  // The cluster's authenticator and authorizer, through the one Kubernetes client (timeouts, retries).
  const reviews = (setting: string) => createKubeApis(kubeConfig(setting), { timeoutMs: 5000, retries: 2 });
  if (trust && config.adapter.authentication.authorization === 'subjectAccessReview') authorizer = subjectAccessReviewer(reviews('adapter.authentication.authorization subjectAccessReview'));
  let metricsReader: RequestHandler | undefined;
  if (config.adapter.authentication.metrics === 'kubernetes') {
    const apis = reviews('adapter.authentication.metrics kubernetes');
    metricsReader = requireMetricsReader(tokenReviewer(apis), subjectAccessReviewer(apis), 'shadowscale-adapter');
  }
  const client = prometheusClientFromConfig(config, options.env);
  const concurrency = config.adapter.concurrency === 'auto' ? usableCpus() : config.adapter.concurrency;
  const pool: FitPool = createFitPool(Math.min(concurrency, 8), (why) =>
    logger.warn({ why }, `fit threads could not be put at SCHED_IDLE, they run niced +${FIT_NICE_INCREMENT} only: a request that arrives while they fill the CPU may wait for them`),
  );
  let metricsRef: ReturnType<typeof createAdapterMetrics> | undefined;
  const loop = new ForecastLoop(config, client, pool, {
    onQuery: (w, s, e) => metricsRef?.queryObserved(w, s, e),
    onFit: (w, s, e) => metricsRef?.fitObserved(w, s, e),
    onFitKept: (w) => metricsRef?.fitKept(w),
    log: (level, message, fields) => logger[level](fields ?? {}, message),
  }, options.now, concurrency);
  const metrics = createAdapterMetrics(loop, config.adapter.forecastTTL);
  metricsRef = metrics;

  const app = express();
  app.disable('x-powered-by');
  // No ETags: the HPA, KEDA and Prometheus never revalidate, and express would hash every answer to
  // make one (a few milliseconds on the thread that serves the HPA for a /metrics of 35,000 series).
  app.set('etag', false);
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/livez', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    if (loop.warm) res.type('text/plain').send('ok');
    else res.status(503).type('text/plain').send('first forecasts not yet attempted');
  });
  app.get('/metrics', ...(metricsReader ? [metricsReader] : []), async (_req: Request, res: Response) => {
    await writeChunks(res, metrics.registry.contentType, await metrics.render());
  });
  if (trust) app.use(requireFrontProxy(trust, authorizer));
  app.use(externalMetricsRouter());
  // The REST endpoints (KEDA's metrics-api among them) behind a bearer token, when one is configured.
  const restToken = readSecret('adapter.authentication token', config.adapter.authentication.tokenFile, config.adapter.authentication.tokenEnv, options.env ?? process.env);
  if (restToken === '') throw new SecretError('adapter.authentication token: the token is empty');
  if (restToken !== undefined) {
    app.use((req: Request, res: Response, next: NextFunction) => {
      if (tokenMatches(req.get('authorization'), restToken)) return next();
      res.status(401).set('WWW-Authenticate', 'Bearer realm="shadowscale-adapter"').json({ error: 'missing or invalid bearer token (adapter.authentication.tokenFile)' });
    });
  }
  app.use(restRouter(loop, metrics));
  app.use((req: Request, res: Response) => sendStatus(res, 404, 'NotFound', `no route for ${req.method} ${req.path}`));
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error }, 'request failed');
    sendStatus(res, 500, 'InternalError', error.message);
  });

  // The external metrics' values first (their own request path, the same front-proxy check), then Express.
  const values = externalMetricValues({
    loop,
    metrics,
    stepSeconds: () => config.adapter.step,
    now: options.now,
    trust,
    authorizer,
    onError: (error) => logger.error({ err: error }, 'request failed'),
  });
  const listener: http.RequestListener = (req, res) => {
    if (!values(req, res)) app(req, res);
  };
  const httpServer = http.createServer(listener);
  let httpAddress: string;
  let httpsServer: https.Server | undefined;
  let stopReload: (() => void) | undefined;
  let httpsAddress: string | undefined;
  let certificate: string | undefined;
  let grpcServer: GrpcServer | undefined;
  let grpcAddress: string | undefined;
  try {
    httpAddress = await listen(httpServer, config.adapter.listen.http);
    if (config.adapter.listen.https) {
      const material = await tlsMaterial(config);
      certificate = material.cert;
      // With front-proxy authentication the client certificate is asked for and checked per request
      // (only /apis/ needs one: probes and /metrics stay open).
      httpsServer = https.createServer(trust ? { ...material, requestCert: true, rejectUnauthorized: false, ca: trust.ca } : material, listener);
      httpsAddress = await listen(httpsServer, config.adapter.listen.https);
      if (config.adapter.tls) {
        stopReload = reloadOnChange(
          httpsServer,
          config.adapter.tls,
          'adapter.tls',
          (error) => (error ? logger.warn({ err: error }, 'renewed certificate not loaded; serving the previous one') : logger.info('certificate reloaded')),
          // The front-proxy CA that client certificates are checked against stays in the new context.
          { context: trust ? { ca: trust.ca } : {}, intervalMs: options.tlsReloadMs },
        );
      }
    }
    if (config.adapter.listen.grpc) {
      const g = config.adapter.grpcTls;
      let tls;
      if (g) {
        const read = (file: string, what: string) => {
          try {
            return readFileSync(file, 'utf8');
          } catch (error) {
            throw new SecretError(`adapter.grpcTls.${what}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
          }
        };
        tls = { cert: read(g.certFile, 'certFile'), key: read(g.keyFile, 'keyFile'), ...(g.clientCAFile ? { clientCA: read(g.clientCAFile, 'clientCAFile') } : {}) };
      }
      const { server, port } = await startKedaServer(config.adapter.listen.grpc, loop, metrics, tls);
      grpcServer = server;
      grpcAddress = `${splitAddress(config.adapter.listen.grpc).host}:${port}`;
    }
  } catch (error) {
    // A listener, a certificate or a port that fails stops what had started, so that the caller (the
    // CLI, a test) is left with nothing running: no open port, no worker threads.
    stopReload?.();
    grpcServer?.forceShutdown();
    httpsServer?.close();
    httpServer.close();
    await pool.close();
    throw error;
  }
  logger.info({ http: httpAddress, https: httpsAddress, grpc: grpcAddress, workloads: config.workloads.length }, 'shadowscale adapter listening');

  // Listening first keeps /healthz answering during a long first round; /readyz stays 503, so
  // Kubernetes routes the HPA to a warm replica meanwhile.
  const warmup = (async () => {
    if (!options.noWarmup) {
      const started = performance.now();
      await loop.refreshAll();
      logger.info({ seconds: (performance.now() - started) / 1000 }, 'first forecasts done');
    }
    loop.start();
  })();
  if (options.waitForWarmup ?? true) await warmup;

  return {
    loop,
    httpUrl: `http://${httpAddress}`,
    httpsUrl: httpsAddress ? `https://${httpsAddress}` : undefined,
    grpcAddress,
    certificate,
    async stop() {
      stopReload?.();
      await loop.stop();
      const closing = [
        new Promise<void>((r) => httpServer.close(() => r())),
        httpsServer ? new Promise<void>((r) => httpsServer!.close(() => r())) : undefined,
        grpcServer
          ? new Promise<void>((r) => {
              // Open StreamIsActive calls would hold a graceful shutdown forever.
              const force = setTimeout(() => grpcServer!.forceShutdown(), 2000);
              grpcServer!.tryShutdown(() => {
                clearTimeout(force);
                r();
              });
            })
          : undefined,
      ];
      // Keep-alive connections would hold close() open until they time out.
      httpServer.closeAllConnections();
      httpsServer?.closeAllConnections();
      await Promise.all(closing);
      await pool.close();
    },
  };
}
