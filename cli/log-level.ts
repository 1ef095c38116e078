/** `--log-level` of the services (or LOG_LEVEL): pino's levels, checked before anything starts. */
import { Option } from 'commander';

import { UsageError } from './errors.ts';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function logLevelOption(): Option {
  return new Option('--log-level <level>', `log level (${LOG_LEVELS.join(', ')}); default LOG_LEVEL or info`);
}

/** The level asked for by the flag, else LOG_LEVEL, else info; a clear error for anything else. */
export function logLevel(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const [value, where] = flag !== undefined ? [flag, '--log-level'] : env.LOG_LEVEL ? [env.LOG_LEVEL, 'LOG_LEVEL'] : ['info', 'default'];
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new UsageError(`${where} "${value}" is not a log level; use one of ${LOG_LEVELS.join(', ')}`);
  return value as LogLevel;
}
