/**
 * The `shadowscale` executable: one subcommand per file, each a thin shell over core/ and the services.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Command, CommanderError } from 'commander';

import { UsageError } from './errors.ts';
import { adapterCommand } from './adapter.ts';
import { checkCommand } from './check.ts';
import { receiverCommand } from './receiver.ts';
import { backtestCommand } from './backtest-command.ts';
import { simulateCommand } from './simulate-command.ts';
import { whatifCommand } from './whatif-command.ts';
import { dashboardsCommand } from './dashboards.ts';
import { demoCommand } from './demo.ts';
import { rbacCommand } from './rbac.ts';

export function program(): Command {
  return new Command('shadowscale')
    .description('Prometheus-native predictive autoscaling: forecasts, shadow endpoints, HPA and KEDA plugins')
    .version(version(), '-V, --version', 'print the version')
    .addCommand(checkCommand())
    .addCommand(backtestCommand())
    .addCommand(adapterCommand())
    .addCommand(receiverCommand())
    .addCommand(simulateCommand())
    .addCommand(whatifCommand())
    .addCommand(dashboardsCommand())
    .addCommand(rbacCommand())
    .addCommand(demoCommand())
    .showHelpAfterError('(run with --help for usage)');
}

function version(): string {
  return (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Exit status 2: the command line or the configuration is wrong (fix it and run again). */
export const EXIT_USAGE = 2;
/** Exit status 1: it ran and failed (a problem found, a service down). */
export const EXIT_FAILURE = 1;

export async function main(argv: string[]): Promise<number> {
  try {
    // Commands are built with exitOverride too, so a subcommand's parse error comes back here.
    const root = program().exitOverride();
    for (const c of root.commands) c.exitOverride();
    await root.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its own message; help and version are not failures.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const name = argv[2] ? `shadowscale ${argv[2]}` : 'shadowscale';
    process.stderr.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    // ConfigError (core/config.ts) by name: importing it would load the schema for --help.
    return error instanceof UsageError || (error instanceof Error && error.name === 'ConfigError') ? EXIT_USAGE : EXIT_FAILURE;
  }
}
