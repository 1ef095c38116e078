import { readFileSync } from 'node:fs';
import { parseConfig, type Config } from '../core/config.ts';
import { UsageError } from './errors.ts';

/** Reads and validates the one configuration; every error names the file. */
export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--config ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return parseConfig(text, file);
}
