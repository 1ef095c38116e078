/**
 * The `shadowscale` executable: one subcommand per file, each a thin shell over core/ and the services.
 */
import { Command, CommanderError } from 'commander';
import { adapterCommand } from './adapter.ts';
import { checkCommand } from './check.ts';
import { receiverCommand } from './receiver.ts';
import { backtestCommand } from './backtest.ts';
import { simulateCommand } from './simulate.ts';
import { dashboardsCommand } from './dashboards.ts';
import { demoCommand } from './demo.ts';

export function program(): Command {
  return new Command('shadowscale')
    .description('Prometheus-native predictive autoscaling: forecasts, shadow endpoints, HPA and KEDA plugins')
    .addCommand(checkCommand())
    .addCommand(backtestCommand())
    .addCommand(adapterCommand())
    .addCommand(receiverCommand())
    .addCommand(simulateCommand())
    .addCommand(dashboardsCommand())
    .addCommand(demoCommand())
    .showHelpAfterError('(run with --help for usage)');
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().exitOverride().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its own message; help and version are not failures.
      return error.exitCode;
    }
    const name = argv[2] ? `shadowscale ${argv[2]}` : 'shadowscale';
    process.stderr.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
