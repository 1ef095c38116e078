/**
 * A real Prometheus (Debian package) as a plain process, for the demo and the tests: its own data
 * directory, a free loopback port, history backfilled with promtool before start, stopped by PID.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

import { toOpenMetrics, type HistorySeries } from './openmetrics.ts';
import { freePort } from './ports.ts';
import { startOnFreePort, startProcess, type ManagedProcess } from './process.ts';

const exec = promisify(execFile);

export interface PrometheusOptions {
  /** History loaded before start. */
  history?: readonly HistorySeries[];
  /** Rule files (paths) to evaluate. */
  ruleFiles?: readonly string[];
  /** Targets to scrape, as host:port on loopback, with optional metrics path. */
  scrapeTargets?: ReadonlyArray<{ job: string; target: string; metricsPath?: string; scheme?: 'http' | 'https'; metricRelabelConfigs?: ReadonlyArray<Record<string, unknown>> }>;
  /** Jobs whose targets come from a file (file-based service discovery; Prometheus watches it). */
  fileSdJobs?: ReadonlyArray<{ job: string; file: string }>;
  /** Scrape configurations as they are, e.g. what the Operator makes of a PodMonitor (podmonitor.ts). */
  scrapeConfigs?: ReadonlyArray<Record<string, unknown>>;
  /** Alertmanagers to send alerts to, as host:port. */
  alertmanagers?: readonly string[];
  scrapeInterval?: string;
  evaluationInterval?: string;
  /** Port on 127.0.0.1; absent or 0: a free one. */
  port?: number;
  /** Extra command-line flags, e.g. `--rules.alert.resend-delay=1s`. */
  flags?: readonly string[];
  /** An existing data directory to open (and keep when stopped); absent: a fresh one, removed on stop. */
  dataDir?: string;
  /** `--storage.tsdb.retention.time`; 90d by default. */
  retention?: string;
}

export interface PrometheusServer {
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowscale-prom-'));
  const dataDir = options.dataDir ?? join(dir, 'data');
  if (options.history && options.history.length > 0) {
    const file = join(dir, 'history.om');
    writeFileSync(file, toOpenMetrics(options.history));
    // One block per week keeps a two-week backfill to a couple of blocks (and a fraction of a second).
    await exec('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--max-block-duration=168h', file, dataDir]);
  }
  const config = {
    global: {
      scrape_interval: options.scrapeInterval ?? '1s',
      evaluation_interval: options.evaluationInterval ?? '1s',
    },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: [
      ...(options.scrapeTargets ?? []).map((t) => ({
        job_name: t.job,
        metrics_path: t.metricsPath ?? '/metrics',
        scheme: t.scheme ?? 'http',
        ...(t.scheme === 'https' ? { tls_config: { insecure_skip_verify: true } } : {}),
        static_configs: [{ targets: [t.target] }],
        ...(t.metricRelabelConfigs ? { metric_relabel_configs: t.metricRelabelConfigs } : {}),
      })),
      // Prometheus watches the file; the refresh interval is only a fallback.
      ...(options.fileSdJobs ?? []).map((j) => ({ job_name: j.job, file_sd_configs: [{ files: [j.file], refresh_interval: '5s' }] })),
      ...(options.scrapeConfigs ?? []),
    ],
    ...(options.alertmanagers?.length
      ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [...options.alertmanagers] }] }] } }
      : {}),
  };
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));

  try {
    const { port, url, process: proc } = await startOnFreePort(
      options.port ? async () => options.port! : freePort,
      (port, attempt) =>
        startProcess(
          'prometheus',
          [
            `--config.file=${configFile}`,
            `--storage.tsdb.path=${dataDir}`,
            `--web.listen-address=127.0.0.1:${port}`,
            // Backfilled traces end near now but may begin weeks ago: keep them all.
            `--storage.tsdb.retention.time=${options.retention ?? '90d'}`,
            '--web.enable-lifecycle',
            ...(options.flags ?? []),
          ],
          { cwd: dir, logFile: join(dir, `prometheus-${attempt}.log`) },
        ),
      '/-/ready',
    );
    return {
      url,
      port,
      pid: proc.pid,
      dataDir,
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

export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** A bare query_range for tests; the adapter has the production client. */
export async function queryRange(url: string, query: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
  const params = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
  const response = await fetch(`${url}/api/v1/query_range?${params}`);
  const body = (await response.json()) as { status: string; error?: string; data?: { result: RangeSeries[] } };
  if (body.status !== 'success' || !body.data) throw new Error(`query_range ${query}: ${body.error ?? response.status}`);
  return body.data.result;
}
