import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { fixturePath } from '../test/harness/fixtures.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'shadowscale.mjs');

function shadowscale(...args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function tempCsv(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'shadowscale-cli-')), 'series.csv');
  writeFileSync(file, text);
  return file;
}

describe('shadowscale backtest', () => {
  it('prints one JSON object with the documented fields for a real series', () => {
    const input = fixturePath('ec2_cpu_utilization_5f5533.csv');
    const run = shadowscale('backtest', '--input', input, '--horizon', '12', '--folds', '4', '--models', 'auto,seasonal-naive,ets', '--json');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]);
    expect(result).toMatchObject({ input, points: 4032, intervalSeconds: 300, horizon: 12, folds: 4 });
    expect(['mstl', 'ets', 'seasonal-naive', 'holt-winters', 'moving-median']).toContain(result.selected);
    expect(result.models.map((m: { model: string }) => m.model)).toEqual(['auto', 'seasonal-naive', 'ets']);
    for (const m of result.models) {
      for (const key of ['mae', 'mase', 'relMae', 'smape', 'coverage80', 'coverage95', 'fitMs']) expect(typeof m[key]).toBe('number');
    }
    expect(result.models[1].relMae).toBe(1);
  });

  it('prints a readable table without --json', () => {
    const run = shadowscale('backtest', '--input', fixturePath('ec2_cpu_utilization_5f5533.csv'), '--horizon', '6', '--folds', '2', '--models', 'seasonal-naive');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/4032 points every 300s; horizon 6 steps; 2 scored windows/);
    expect(run.stdout).toMatch(/seasonal-naive .*│ 1\.000 /);
  });

  it.each([
    ['a missing file', ['--input', '/nonexistent/load.csv'], 'shadowscale backtest: --input /nonexistent/load.csv: no such file'],
    ['a bad column', ['--input', tempCsv('time,load\n1,2\n')], 'header is "time,load"; expected columns `timestamp` and `value`'],
    ['a bad value', ['--input', tempCsv('timestamp,value\n1,2\n2,x\n')], 'line 3: value "x" is not a number'],
    ['an unknown model', ['--input', fixturePath('ec2_cpu_utilization_5f5533.csv'), '--models', 'mstl,arima'], '--models: unknown model "arima"; expected one of auto, mstl, ets, prophet, seasonal-naive, holt-winters, moving-median'],
    ['a horizon longer than the data', ['--input', tempCsv('timestamp,value\n1,2\n2,3\n3,4\n'), '--horizon', '10'], '--horizon 10 is not shorter than the series (3 points'],
    ['a horizon the folds cannot fit', ['--input', fixturePath('ec2_cpu_utilization_5f5533.csv'), '--horizon', '1000'], 'lower --horizon or --folds'],
  ])('fails on %s with a one-line error and a non-zero exit', (_what, args, message) => {
    const run = shadowscale('backtest', ...args);
    expect(run.status).not.toBe(0);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(message);
  });
});

describe('shadowscale adapter', () => {
  it('refuses a bad configuration with the file and the field, and exits 2', () => {
    const config = tempCsv('prometheus: { url: http://127.0.0.1:9090 }\nworkloads:\n  - { name: a, namespace: b, load: up, capacityPerReplica: 0, primary: { name: a, maxReplicas: 2 } }\n');
    const run = shadowscale('adapter', '--config', config);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe(`shadowscale adapter: ${config}: workloads[0].capacityPerReplica: expected a positive number (load one replica serves)`);
  });

  it('takes its serving certificate from the command line in pairs, and names a file it cannot read', () => {
    const config = tempCsv('prometheus: { url: http://127.0.0.1:9 }\nadapter: { listen: { http: "127.0.0.1:0", https: "127.0.0.1:0", grpc: "127.0.0.1:0" } }\nworkloads:\n  - { name: a, namespace: b, load: up, capacityPerReplica: 10, primary: { name: a, maxReplicas: 2 } }\n');
    const alone = shadowscale('adapter', '--config', config, '--tls-cert-file', '/etc/tls/tls.crt');
    expect(alone.status).toBe(2);
    expect(alone.stderr.trim()).toBe('shadowscale adapter: --tls-cert-file and --tls-private-key-file go together: give both, or neither (then adapter.tls, or a self-signed pair)');
    const missing = shadowscale('adapter', '--config', config, '--tls-cert-file', '/nonexistent/tls.crt', '--tls-private-key-file', '/nonexistent/tls.key');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('/nonexistent/tls.crt');
  });

  it('names a missing configuration file', () => {
    const run = shadowscale('adapter', '--config', '/nonexistent/shadowscale.yaml');
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('shadowscale adapter: --config /nonexistent/shadowscale.yaml: no such file');
  });
});

describe('shadowscale rbac', () => {
  it("prints a RoleBinding of the receiver's ClusterRole in each namespace the configuration writes in", () => {
    const config = tempCsv(
      'prometheus: { url: http://127.0.0.1:9 }\nreceiver: { provisioning: { enabled: true, namespaces: [team-c] } }\nworkloads:\n' +
        ['  - { name: a, namespace: team-b, load: up, capacityPerReplica: 1, primary: { name: a, maxReplicas: 2 } }', '  - { name: b, namespace: team-a, load: up, capacityPerReplica: 1, primary: { name: b, maxReplicas: 2 } }', '  - { name: c, namespace: team-a, load: up, capacityPerReplica: 1, primary: { name: c, maxReplicas: 2 } }'].join('\n') +
        '\n',
    );
    const run = shadowscale('rbac', '--config', config, '--namespace', 'autoscaling');
    expect(run.status, run.stderr).toBe(0);
    const bindings = parseAllDocuments(run.stdout).map((d) => d.toJS());
    expect(bindings.map((b) => `${b.kind} ${b.metadata.namespace}/${b.metadata.name}`)).toEqual(['RoleBinding team-a/shadowscale-receiver-workloads', 'RoleBinding team-b/shadowscale-receiver-workloads', 'RoleBinding team-c/shadowscale-receiver-workloads']);
    for (const b of bindings) {
      expect(b.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'shadowscale-receiver' });
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'shadowscale-receiver', namespace: 'autoscaling' }]);
    }
    expect(shadowscale('rbac', '--config', '/nonexistent.yaml').status).toBe(2);
  });
});

describe('shadowscale itself', () => {
  it('prints its version and help without loading a subcommand, and exits 2 on a usage error', () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
    const version = shadowscale('--version');
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = shadowscale('--help');
    expect(help.status).toBe(0);
    for (const command of ['check', 'backtest', 'adapter', 'receiver', 'simulate', 'dashboards', 'rbac', 'demo']) expect(help.stdout).toContain(command);
    const unknown = shadowscale('adapter', '--no-such-flag', '--config', 'x.yaml');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--no-such-flag'/);
    const level = shadowscale('adapter', '--config', 'x.yaml', '--log-level', 'loud');
    expect(level.status).toBe(2);
    expect(level.stderr.trim()).toBe('shadowscale adapter: --log-level "loud" is not a log level; use one of trace, debug, info, warn, error, fatal, silent');
    const env = spawnSync(process.execPath, [BIN, 'receiver', '--config', 'x.yaml'], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'chatty' } });
    expect(env.status).toBe(2);
    expect(env.stderr.trim()).toBe('shadowscale receiver: LOG_LEVEL "chatty" is not a log level; use one of trace, debug, info, warn, error, fatal, silent');
  });
});
