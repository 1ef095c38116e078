/** Secrets read from a file or an environment variable, with an error that names what and where. */
import { readFileSync } from 'node:fs';

export class SecretError extends Error {}

export function readSecret(what: string, file: string | undefined, envName: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw new SecretError(`${what}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  if (envName) {
    const value = env[envName];
    if (value === undefined || value === '') throw new SecretError(`${what}: environment variable ${envName} is not set`);
    return value;
  }
  return undefined;
}
