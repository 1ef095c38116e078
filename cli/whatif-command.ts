/**
 * `shadowscale whatif`: its options, without the simulator (loaded when it runs, from cli/whatif.ts),
 * so that `shadowscale --help` stays light.
 */
import { Command } from 'commander';

import type { WhatifCliOptions } from './whatif.ts';

export function whatifCommand(): Command {
  return new Command('whatif')
    .description("replay each workload's own load history from Prometheus: what shadowscale would have done against the HPA, before switching it on")
    .requiredOption('--config <file>', 'the shadowscale YAML configuration')
    .option('--workload <namespace/name>', 'only this workload')
    .option('--since <duration>', 'how much history to replay (the first part of it, up to 3 days, is history only, not scored)', '14d')
    .option('--prometheus <url>', 'the Prometheus to read from (default: prometheus.url of the configuration)')
    .option('--target-utilization <x>', "the HPA you run today, when it cannot be read from the cluster: its target as a share of capacityPerReplica", '0.8')
    .option('--kubeconfig <file>', 'the cluster to read each workload\'s HPA from (default: KUBECONFIG, ~/.kube/config or in-cluster)')
    .option('--no-cluster', 'do not read the HPAs from the cluster: the configuration\'s replica bounds and --target-utilization')
    .option('--estimate-capacity', 'replay with the capacity per replica estimated from Prometheus (the most a ready primary replica served within the SLO) instead of the configured one')
    .option('--json', 'print one JSON object')
    .option('--report <file>', 'write the simulator\'s self-contained HTML page (one per workload: the file name gets its namespace and name when there are several)')
    .action(async (options: WhatifCliOptions) => {
      const { runWhatif } = await import('./whatif.ts');
      await runWhatif(options);
    });
}
