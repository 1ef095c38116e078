/**
 * A set of replicas of the sample service as local processes: the local stand-in for a Deployment.
 * `scale(n)` starts or stops processes; a replica counts as ready once its /ready answers 200.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';

import { siblingModule } from '../../platform/module-file.ts';

const SERVICE = siblingModule(import.meta.url, 'sample-service');

export interface Replica {
  port?: number;
  ready: boolean;
  child: ChildProcess;
}

export interface PoolOptions {
  namespace: string;
  workload: string;
  /** The set's name: the Deployment it stands for. */
  set: string;
  startupMs: number;
  workMs?: number;
  /** More environment for each replica (CONCURRENCY, QUEUE, FAIL_RATIO: see sample-service.ts). */
  env?: Record<string, string>;
}

export class ProcessPool {
  private readonly replicas: Replica[] = [];
  /** PIDs of every process this pool started, live or not (to check none is left behind). */
  readonly startedPids: number[] = [];
  private desired = 0;
  private readonly poller: NodeJS.Timeout;
  private closed = false;

  constructor(readonly options: PoolOptions) {
    this.poller = setInterval(() => void this.probe(), 200);
    this.poller.unref();
  }

  get spec(): number {
    return this.desired;
  }

  get ready(): number {
    return this.replicas.filter((r) => r.ready).length;
  }

  /** Ports of every replica that listens (ready or starting), for scraping. */
  ports(): number[] {
    return this.replicas.filter((r) => r.port !== undefined).map((r) => r.port!);
  }

  /**
   * The replicas that listen, named as a Deployment's pods are: `<set>-<pod-template-hash>-<suffix>`,
   * owned by the ReplicaSet `<set>-<pod-template-hash>` (for scraping them as Kubernetes would).
   */
  pods(): Array<{ port: number; name: string; replicaSet: string }> {
    const replicaSet = `${this.options.set}-${createHash('sha1').update(this.options.set).digest('hex').slice(0, 10)}`;
    return this.replicas
      .filter((r) => r.port !== undefined)
      .map((r) => ({ port: r.port!, name: `${replicaSet}-${(r.child.pid ?? 0).toString(36).padStart(5, '0').slice(-5)}`, replicaSet }));
  }

  /** PIDs of the replicas the pool holds now (ready or starting). */
  pids(): number[] {
    return this.replicas.flatMap((r) => (r.child.pid === undefined ? [] : [r.child.pid]));
  }

  /** Ports of the ready replicas, oldest first. */
  readyPorts(): number[] {
    return this.replicas.filter((r) => r.ready && r.port !== undefined).map((r) => r.port!);
  }

  scale(replicas: number): void {
    if (this.closed) throw new Error(`pool ${this.options.set} is closed`);
    this.desired = replicas;
    while (this.replicas.length < replicas) this.replicas.push(this.startOne());
    // Like a ReplicaSet: remove replicas that are not ready first, then the newest.
    while (this.replicas.length > replicas) {
      const i = this.replicas.findIndex((r) => !r.ready);
      const [gone] = this.replicas.splice(i >= 0 ? i : this.replicas.length - 1, 1);
      gone.child.kill('SIGTERM');
    }
  }

  /**
   * One replica dies without warning (the OOM killer, a lost node): SIGKILL to its newest ready process,
   * which the pool then replaces as a ReplicaSet would. Returns the PID killed, if a replica was ready.
   */
  killOne(): number | undefined {
    const victim = [...this.replicas].reverse().find((r) => r.ready && r.child.pid !== undefined);
    if (!victim) return undefined;
    victim.child.kill('SIGKILL');
    return victim.child.pid;
  }

  /** Replaces every replica with a new process (a rollout restart of a set that serves no traffic). */
  restart(): void {
    if (this.closed) throw new Error(`pool ${this.options.set} is closed`);
    const old = this.replicas.splice(0, this.replicas.length);
    for (const r of old) r.child.kill('SIGTERM');
    this.scale(this.desired);
  }

  private startOne(): Replica {
    const o = this.options;
    const child = spawn(process.execPath, [...SERVICE.execArgv, SERVICE.path], {
      env: { ...process.env, ...(o.env ?? {}), PORT: '0', SET: o.set, STARTUP_MS: String(o.startupMs), WORK_MS: String(o.workMs ?? 2) },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    const replica: Replica = { ready: false, child };
    if (child.pid !== undefined) this.startedPids.push(child.pid);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const m = /^listening (\d+)/.exec(line);
      if (m) replica.port = Number(m[1]);
    });
    child.on('exit', () => {
      const i = this.replicas.indexOf(replica);
      // A replica that died on its own is replaced, as a ReplicaSet would.
      if (i >= 0) {
        this.replicas.splice(i, 1);
        if (!this.closed) this.scale(this.desired);
      }
    });
    return replica;
  }

  private async probe(): Promise<void> {
    await Promise.all(
      this.replicas
        .filter((r) => !r.ready && r.port !== undefined)
        .map(async (r) => {
          try {
            const res = await fetch(`http://127.0.0.1:${r.port}/ready`, { signal: AbortSignal.timeout(500) });
            r.ready = res.ok;
          } catch {
            r.ready = false;
          }
        }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poller);
    const exits = this.replicas.map((r) => new Promise<void>((resolve) => (r.child.exitCode !== null ? resolve() : r.child.once('exit', () => resolve()))));
    for (const r of this.replicas) r.child.kill('SIGTERM');
    this.replicas.length = 0;
    await Promise.all(exits);
  }
}
