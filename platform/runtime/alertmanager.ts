/**
 * A real Alertmanager (Debian `prometheus-alertmanager`) as a plain process, for the demo and the
 * tests: gossip off, its own storage, a free loopback port, stopped by PID.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

import { freePort } from './ports.ts';
import { startOnFreePort, startProcess, type ManagedProcess } from './process.ts';

export interface AlertmanagerServer {
  url: string;
  /** host:port, as Prometheus' alerting config wants it. */
  address: string;
  pid: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** `config` is the text of alertmanager.yml; `port` 0 or absent: a free one. */
export async function startAlertmanager(config: string, fixedPort = 0): Promise<AlertmanagerServer> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowscale-am-'));
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, config);
  try {
    const { port, url, process: proc } = await startOnFreePort(
      fixedPort ? async () => fixedPort : freePort,
      (port, attempt) =>
        startProcess(
          'prometheus-alertmanager',
          [
            `--config.file=${configFile}`,
            `--storage.path=${join(dir, 'data')}`,
            `--web.listen-address=127.0.0.1:${port}`,
            // No cluster: an empty listen address turns gossip off.
            '--cluster.listen-address=',
          ],
          { cwd: dir, logFile: join(dir, `alertmanager-${attempt}.log`) },
        ),
      '/-/ready',
    );
    return {
      url,
      address: `127.0.0.1:${port}`,
      pid: proc.pid,
      process: proc,
      async stop() {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The project's example configuration (alertmanager/alertmanager.yml) pointed at a receiver on
 * loopback, with the bearer token read from `tokenFile` and short group timers; nothing else changes.
 */
export function exampleAlertmanagerConfig(receiverUrl: string, tokenFile: string, groupInterval: string): string {
  const doc = parse(readFileSync(join(import.meta.dirname, '..', '..', 'alertmanager', 'alertmanager.yml'), 'utf8'));
  doc.route.group_interval = groupInterval;
  doc.route.routes[0].group_interval = groupInterval;
  const hook = doc.receivers.find((r: { name: string }) => r.name === 'shadowscale').webhook_configs[0];
  hook.url = `${receiverUrl}/alertmanager`;
  hook.http_config.authorization.credentials_file = tokenFile;
  return stringify(doc);
}
