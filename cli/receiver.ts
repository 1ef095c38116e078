/**
 * `shadowscale receiver --config FILE`: the Alertmanager webhook receiver (POST /alertmanager) that
 * pre-scales shadows, promotes a ready shadow when the primary degrades, and reverts when alerts resolve.
 */
import { Command } from 'commander';
import { loadConfigFile } from './config-file.ts';
import { logLevel, logLevelOption } from './log-level.ts';

export function receiverCommand(): Command {
  return new Command('receiver')
    .description('act on Alertmanager webhooks: pre-scale, promote, demote, revert')
    .requiredOption('--config <file>', 'the shadowscale YAML configuration (its receiver section)')
    .option('--dry-run', 'log, audit and export what would be done; change nothing')
    .addOption(logLevelOption())
    .action(async (options: { config: string; dryRun?: boolean; logLevel?: string }) => {
      const level = logLevel(options.logLevel);
      const config = loadConfigFile(options.config);
      if (options.dryRun) config.receiver = { ...(config.receiver ?? (await import('../core/config.ts')).defaultReceiverConfig()), dryRun: true };
      const [{ startReceiver }, { pino }] = await Promise.all([import('../alertmanager/service.ts'), import('pino')]);
      const receiver = await startReceiver(config, { logger: pino({ name: 'shadowscale-receiver', level }) });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await receiver.stop();
    });
}
