/**
 * `shadowscale backtest`: its options, without the forecasting code (loaded when it runs, from
 * cli/backtest.ts), so that `shadowscale --help` stays light.
 */
import { Command, Option } from 'commander';

import { DEFAULT_AUTO_CANDIDATES, MODEL_NAMES, type ModelChoice } from '../core/forecast/types.ts';
import type { BacktestCliOptions } from './backtest.ts';

const ALL_CHOICES: readonly ModelChoice[] = ['auto', ...MODEL_NAMES];

export function backtestCommand(): Command {
  return new Command('backtest')
    .description('rolling-origin evaluation of the forecasting models on one series')
    .requiredOption('--input <file>', 'CSV with a header timestamp,value (unix seconds, ISO-8601 or YYYY-MM-DD HH:MM:SS)')
    .option('--horizon <steps>', 'steps to forecast at each origin (default: one hour of steps)')
    .option('--folds <n>', 'scored windows', '10')
    .option('--models <list>', 'comma-separated models to score', ALL_CHOICES.join(','))
    .option('--auto-candidates <list>', 'models `auto` chooses among', DEFAULT_AUTO_CANDIDATES.join(','))
    .option('--history <duration>', 'history fitted before each origin', '14d')
    .addOption(new Option('--no-clean', 'do not replace outlying cycles before fitting'))
    .option('--zero-as-missing', 'read exact zeros as missing samples (for traces that write 0 where they had no data)')
    .option('--json', 'print one JSON object instead of a table')
    .action(async (options: BacktestCliOptions) => {
      const { runBacktest } = await import('./backtest.ts');
      await runBacktest(options);
    });
}
