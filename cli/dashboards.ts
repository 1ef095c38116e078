/** `shadowscale dashboards --out DIR`: writes the Grafana dashboards (JSON) built in dashboards/. */
import { Command } from 'commander';

export function dashboardsCommand(): Command {
  return new Command('dashboards')
    .description('write the Grafana dashboards (overview, workload drill-down, shadowscale health) as JSON')
    .option('--out <dir>', 'directory to write them to', 'dashboards/json')
    .action(async (options: { out: string }) => {
      const { writeDashboards } = await import('../dashboards/index.ts');
      for (const file of writeDashboards(options.out)) process.stdout.write(`wrote ${file}\n`);
    });
}
