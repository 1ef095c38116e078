/** `shadowscale dashboards --out DIR`: writes the Grafana dashboards (JSON) built in dashboards/. */
import { Command } from 'commander';
import { writeDashboards } from '../dashboards/index.ts';

export function dashboardsCommand(): Command {
  return new Command('dashboards')
    .description('write the Grafana dashboards (overview, workload drill-down, shadowscale health) as JSON')
    .option('--out <dir>', 'directory to write them to', 'dashboards/json')
    .action((options: { out: string }) => {
      for (const file of writeDashboards(options.out)) process.stdout.write(`wrote ${file}\n`);
    });
}
