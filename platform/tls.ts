/**
 * Serving certificates from files, as cert-manager writes them into a mounted Secret: read at start
 * (a clear error naming the setting and the file), then read again when either file changes, so a
 * renewed certificate is served without a restart. A renewal caught half-written (a key that does
 * not match the certificate) keeps the certificate in use and is tried again at the next check.
 */
import { readFileSync, statSync } from 'node:fs';
import type https from 'node:https';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

export class TlsFileError extends Error {}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export function readTlsFiles(files: TlsFiles, setting: string): { cert: string; key: string } {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new TlsFileError(`${setting}.${what}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  return { cert: read(files.certFile, 'certFile'), key: read(files.keyFile, 'keyFile') };
}

/**
 * Reloads the server's certificate when its files change (checked every `intervalMs`); `context` holds
 * the other secure-context options the server was created with (a client CA), which a reload keeps.
 * A pair that fails is reported once per change of the files. Returns a stop function.
 */
export function reloadOnChange(
  server: https.Server,
  files: TlsFiles,
  setting: string,
  onEvent: (error: Error | undefined) => void,
  options: { intervalMs?: number; context?: SecureContextOptions } = {},
): () => void {
  const stamp = () => {
    try {
      return `${statSync(files.certFile).mtimeMs}:${statSync(files.keyFile).mtimeMs}`;
    } catch {
      return undefined;
    }
  };
  let last = stamp();
  let failed: string | undefined;
  const timer = setInterval(() => {
    const now = stamp();
    if (now === undefined || now === last) return;
    try {
      const material = { ...options.context, ...readTlsFiles(files, setting) };
      // Validates the pair before it replaces the one in use.
      createSecureContext(material);
      server.setSecureContext(material);
      last = now;
      failed = undefined;
      onEvent(undefined);
    } catch (error) {
      if (failed !== now) onEvent(error as Error);
      failed = now;
    }
  }, options.intervalMs ?? 30_000);
  timer.unref();
  return () => clearInterval(timer);
}
