/**
 * Child processes owned by this process (the demo, a test): started without a shell (so the PID is
 * the server's own, not a wrapper's), output captured to a log file, stopped by PID, and killed if
 * the owner exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';

export interface ManagedProcess {
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
  exited(): boolean;
  logTail(lines?: number): string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function startProcess(command: string, args: string[], options: { cwd?: string; logFile: string; env?: NodeJS.ProcessEnv }): ManagedProcess {
  const fd = openSync(options.logFile, 'a');
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${command}: is it installed? (run npm run setup)`);
  live.add(child);
  let hasExited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      hasExited = true;
      live.delete(child);
      resolve();
    });
    child.once('error', () => {
      hasExited = true;
      live.delete(child);
      resolve();
    });
  });
  const logTail = (lines = 20) => {
    try {
      return readFileSync(options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  return {
    pid: child.pid,
    child,
    logFile: options.logFile,
    exited: () => hasExited,
    logTail,
    async stop(graceMs = 5000) {
      if (hasExited) return;
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => {
        if (!hasExited) process.kill(child.pid!, 'SIGKILL');
      }, graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 2xx, the process dies, or `timeoutMs` passes. */
export async function waitForHttp(url: string, proc: ManagedProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited()) throw new Error(`process ${proc.pid} exited before ${url} was ready:\n${proc.logTail()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${proc.logTail()}`);
}

/**
 * Starts a server on a port found free, retrying with another port if it was taken in between (the
 * window between finding a port and the server binding it), until its `readyPath` answers.
 */
export async function startOnFreePort(
  freePort: () => Promise<number>,
  start: (port: number, attempt: number) => ManagedProcess,
  readyPath: string,
): Promise<{ port: number; url: string; process: ManagedProcess }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = start(port, attempt);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHttp(`${url}${readyPath}`, proc);
      return { port, url, process: proc };
    } catch (error) {
      lastError = error;
      await proc.stop();
    }
  }
  throw lastError;
}
