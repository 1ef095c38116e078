/**
 * `shadowscale adapter --config FILE`: serves predicted load to the HPA (external.metrics.k8s.io over
 * HTTPS), to KEDA (external-scaler gRPC and metrics-api JSON) and to Prometheus (/metrics).
 */
import { Command } from 'commander';
import { loadConfigFile } from './config-file.ts';
import { logLevel, logLevelOption } from './log-level.ts';

export function adapterCommand(): Command {
  return new Command('adapter')
    .description('serve forecasts to the HPA, KEDA and Prometheus')
    .requiredOption('--config <file>', 'the shadowscale YAML configuration')
    .addOption(logLevelOption())
    .action(async (options: { config: string; logLevel?: string }) => {
      const level = logLevel(options.logLevel);
      const config = loadConfigFile(options.config);
      // Loaded when the subcommand runs: --help and the other subcommands do not pay for it.
      const [{ startAdapter }, { pino }] = await Promise.all([import('../adapter/server.ts'), import('pino')]);
      const adapter = await startAdapter(config, { waitForWarmup: false, logger: pino({ name: 'shadowscale-adapter', level }) });
      await new Promise<void>((resolve) => {
        const shutdown = () => resolve();
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
      await adapter.stop();
    });
}
