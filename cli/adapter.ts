/**
 * `shadowscale adapter --config FILE`: serves predicted load to the HPA (external.metrics.k8s.io over
 * HTTPS), to KEDA (external-scaler gRPC and metrics-api JSON) and to Prometheus (/metrics).
 */
import { Command } from 'commander';
import type { Config } from '../core/config.ts';
import { loadConfigFile } from './config-file.ts';
import { UsageError } from './errors.ts';
import { logLevel, logLevelOption } from './log-level.ts';

export function adapterCommand(): Command {
  return new Command('adapter')
    .description('serve forecasts to the HPA, KEDA and Prometheus')
    .requiredOption('--config <file>', 'the shadowscale YAML configuration')
    .option('--tls-cert-file <file>', 'serving certificate of the aggregated API (PEM); overrides adapter.tls.certFile, e.g. a mounted cert-manager Secret')
    .option('--tls-private-key-file <file>', 'its private key (PEM); overrides adapter.tls.keyFile')
    .addOption(logLevelOption())
    .action(async (options: { config: string; logLevel?: string; tlsCertFile?: string; tlsPrivateKeyFile?: string }) => {
      const level = logLevel(options.logLevel);
      const config = withServingCertificate(loadConfigFile(options.config), options);
      // Loaded when the subcommand runs: --help and the other subcommands do not pay for it.
      const [{ startAdapter }, { pino }, { idleV8Workers }] = await Promise.all([import('../adapter/server.ts'), import('pino'), import('../platform/thread-priority.ts')]);
      const logger = pino({ name: 'shadowscale-adapter', level });
      // This process is the adapter's alone (not so in a test that starts it in-process): V8's
      // helpers may yield to the request thread as the fits do.
      const v8Workers = idleV8Workers();
      if (v8Workers.why) logger.info({ idled: v8Workers.idled, why: v8Workers.why }, "V8's background threads stay at their policy: their garbage collection for the fit threads may delay a request");
      else logger.debug({ idled: v8Workers.idled }, "V8's background threads put at SCHED_IDLE");
      const adapter = await startAdapter(config, { waitForWarmup: false, logger });
      await new Promise<void>((resolve) => {
        const shutdown = () => resolve();
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
      await adapter.stop();
    });
}

/**
 * The configuration with the serving certificate of the command line, which a deployment sets where
 * the configuration is shared (the HPA overlay mounts cert-manager's Secret; the KEDA one has none).
 */
export function withServingCertificate(config: Config, flags: { tlsCertFile?: string; tlsPrivateKeyFile?: string }): Config {
  const { tlsCertFile: certFile, tlsPrivateKeyFile: keyFile } = flags;
  if (!certFile && !keyFile) return config;
  if (!certFile || !keyFile) throw new UsageError('--tls-cert-file and --tls-private-key-file go together: give both, or neither (then adapter.tls, or a self-signed pair)');
  if (!config.adapter.listen.https) throw new UsageError('--tls-cert-file: the adapter serves no HTTPS (set adapter.listen.https)');
  return { ...config, adapter: { ...config.adapter, tls: { certFile, keyFile } } };
}
