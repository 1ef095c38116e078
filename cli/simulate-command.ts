/**
 * `shadowscale simulate`: its options, without the simulator (loaded when it runs, from
 * cli/simulate.ts), so that `shadowscale --help` stays light.
 */
import { Command } from 'commander';

import { POLICY_NAMES } from '../core/simulator/policy-names.ts';
import type { SimulateCliOptions } from './simulate.ts';

export function simulateCommand(): Command {
  return new Command('simulate')
    .description('replay a load trace through a simulated cluster under each scaling policy')
    .requiredOption('--trace <file>', 'CSV timestamp,value; values read as requests per second')
    .option('--policies <list>', `policies to compare (${POLICY_NAMES.join(', ')})`, 'hpa,holt-winters,shadowscale,oracle')
    .option('--provisioning-lag <duration>', 'from scale decision to ready', '120s')
    .option('--capacity <n>', 'requests per second one replica serves, or auto[:R] (about R replicas at the p95 load; 20 by default)', 'auto')
    .option('--target-utilization <x>', 'HPA target as a share of capacity', '0.8')
    .option('--shadow-resource-fraction <x>', 'resources of a shadow as a share of a replica', '0.5')
    .option('--mirror-percent <p>', 'share of the live load mirrored to the shadows, which their capacity serves first', '10')
    .option('--warmup <duration>', 'trace time given as history only, not scored (auto: 3d or a fifth of the trace)', 'auto')
    .option('--compress <n>', 'time compression: the trace plays n times faster', '1')
    .option('--min-replicas <n>', 'HPA minReplicas', '1')
    .option('--max-replicas <n>', 'HPA maxReplicas (auto: twice the peak load)', 'auto')
    .option('--zero-as-missing', 'read exact zeros as missing samples')
    .option('--json', 'print one JSON object')
    .option('--report <file>', 'write a self-contained HTML page with plots and the table')
    .action(async (options: SimulateCliOptions) => {
      const { runSimulateCli } = await import('./simulate.ts');
      await runSimulateCli(options);
    });
}
