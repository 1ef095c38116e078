/**
 * `shadowscale check --config FILE [--prometheus URL] [--workload NS/NAME]`: validates the configuration
 * (schema and the PromQL syntax of every query, with positions) and, against Prometheus, says per
 * workload what its load query and the rules are missing. Exit 0 when every workload has what it
 * needs, 1 otherwise, one line per problem.
 */
import { Command } from 'commander';

import { loadConfigFile } from './config-file.ts';

export function checkCommand(): Command {
  return new Command('check')
    .description('validate the configuration and check, against Prometheus, that every workload has the series it needs')
    .requiredOption('--config <file>', 'the shadowscale YAML configuration')
    .option('--prometheus <url>', 'the Prometheus to check against (default: prometheus.url of the configuration)')
    .option('--workload <namespace/name>', 'check only this workload')
    .option('--offline', 'only validate the configuration; ask Prometheus nothing')
    .action(async (options: { config: string; prometheus?: string; workload?: string; offline?: boolean }) => {
      const config = loadConfigFile(options.config);
      process.stdout.write(`${options.config}: valid (${config.workloads.length} workload${config.workloads.length === 1 ? '' : 's'}, every PromQL expression parses)\n`);
      if (options.offline) return;
      const [{ checkWorkloads }, { PrometheusClient, prometheusClientFromConfig }] = await Promise.all([import('../adapter/check.ts'), import('../platform/prometheus.ts')]);
      const client = options.prometheus ? new PrometheusClient({ url: options.prometheus, timeoutSeconds: config.prometheus.timeout, retries: 0 }) : prometheusClientFromConfig(config);
      const url = options.prometheus ?? config.prometheus.url;
      let results;
      try {
        results = await checkWorkloads(config, (promql) => client.query(promql), options.workload);
      } catch (error) {
        throw new Error(`Prometheus at ${url} cannot be asked: ${(error as Error).message}`);
      }
      let problems = 0;
      for (const r of results) {
        if (r.problems.length === 0) process.stdout.write(`${r.workload}: ok (${r.found.join(', ')})\n`);
        for (const p of r.problems) process.stdout.write(`${r.workload}: ${p}\n`);
        problems += r.problems.length;
      }
      if (problems > 0) throw new Error(`${problems} problem${problems === 1 ? '' : 's'} found`);
    });
}
