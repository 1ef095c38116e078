import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, workloadTiming } from './config.ts';

const VALID = `
prometheus: { url: http://127.0.0.1:9090, timeout: 10s }
adapter:
  listen: { http: "127.0.0.1:8080", https: "127.0.0.1:6443", grpc: "127.0.0.1:9100" }
  history: 14d
  step: 1m
  refresh: 1m
workloads:
  - name: checkout
    namespace: shop
    load: sum(rate(http_requests_total{namespace="shop",deployment="checkout"}[1m]))
    capacityPerReplica: 50
    provisioningLag: 2m
    model: auto
    primary: { kind: Deployment, name: checkout, minReplicas: 2, maxReplicas: 50 }
    shadow:  { kind: Deployment, name: checkout-shadow, minReplicas: 1, maxReplicas: 20, mirrorPercent: 10 }
`;

function errorOf(text: string): string {
  try {
    parseConfig(text, 'shadowscale.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('reads the current-load interval and the headroom quantile, and names a bad one', () => {
    expect(parseConfig(VALID.replace('refresh: 1m', 'refresh: 1m\n  observe: \'off\'')).adapter.observe).toBe('off');
    expect(parseConfig(VALID.replace('refresh: 1m', 'refresh: 1m\n  observe: 30s')).adapter.observe).toBe(30);
    expect(errorOf(VALID.replace('refresh: 1m', 'refresh: 1m\n  observe: never'))).toContain('adapter.observe');
    expect(parseConfig(VALID.replace('model: auto', 'model: auto\n    headroomQuantile: 0.99')).workloads[0].headroomQuantile).toBe(0.99);
    expect(errorOf(VALID.replace('model: auto', 'model: auto\n    headroomQuantile: 1'))).toContain('workloads[0].headroomQuantile');
  });

  it('reads the example configuration with durations in seconds and defaults filled in', () => {
    const config = parseConfig(VALID);
    expect(config.prometheus).toMatchObject({ url: 'http://127.0.0.1:9090', timeout: 10 });
    expect(config.adapter).toMatchObject({ history: 14 * 86400, step: 60, refresh: 60, forecastTTL: 600, observe: 15 });
    expect(config.workloads[0]).toMatchObject({ provisioningLag: 120, capacityPerReplica: 50, dryRun: false, headroomQuantile: 0.9 });
    expect(config.workloads[0].shadow).toMatchObject({ mirrorPercent: 10, resourceFraction: 0.5 });
    expect(workloadTiming(config, config.workloads[0])).toEqual({ stepSeconds: 60, historySeconds: 14 * 86400, refreshSeconds: 60, horizonSeconds: 120, horizonSteps: 2 });
  });

  it.each([
    ['a negative capacity', VALID.replace('capacityPerReplica: 50', 'capacityPerReplica: -5'), 'shadowscale.yaml: workloads[0].capacityPerReplica: expected a positive number'],
    ['a duration in words', VALID.replace('provisioningLag: 2m', 'provisioningLag: 2 minutes'), 'workloads[0].provisioningLag: expected a duration such as 30s, 5m or 1h, got "2 minutes"'],
    ['a non-http URL', VALID.replace('http://127.0.0.1:9090', 'ftp://x'), 'prometheus.url: expected an http(s) URL'],
    ['an unknown key', `${VALID}\nworkload: []\n`, '(top level): Unrecognized key: "workload"'],
    ['an unknown model', VALID.replace('model: auto', 'model: arima'), 'workloads[0].model:'],
    ['min above max', VALID.replace('minReplicas: 2, maxReplicas: 50', 'minReplicas: 60, maxReplicas: 50'), 'workloads[0].primary: minReplicas must not exceed maxReplicas'],
    ['a bad listen address', VALID.replace('"127.0.0.1:9100"', '"grpc-port"'), 'adapter.listen.grpc: expected host:port'],
    ['a duplicate workload', VALID + VALID.split('workloads:\n')[1], 'workloads[1].name: workload shop/checkout is already defined at workloads[0]'],
    ['no workloads', 'prometheus: { url: http://x:9090 }\nworkloads: []\n', 'workloads: expected at least one workload'],
    ['broken YAML', 'prometheus: [', 'shadowscale.yaml:1:'],
    ['a PromQL syntax error', VALID.replace('[1m]))', '[1m])'), 'workloads[0].load: PromQL syntax error at 1:74: unexpected end of the expression'],
    ['a PromQL syntax error in a warm-up mix', VALID.replace('mirrorPercent: 10 }', 'mirrorPercent: 10, warmup: { mix: "sum by (path) (rate(x[5m] offset)" } }'), 'workloads[0].shadow.warmup.mix: PromQL syntax error at 1:33: unexpected ")"'],
  ])('rejects %s, naming the file and the field', (_what, text, message) => {
    expect(errorOf(text)).toContain(message);
  });
});

describe('the load query', () => {
  it('defaults to the recorded served load of the workload', () => {
    const config = parseConfig(VALID.replace(/    load: .*\n/, ''));
    expect(config.workloads[0].load).toBe('sum(shadowscale:load:rate1m{namespace="shop",workload="checkout"})');
  });
});

describe('the shipped example configuration', () => {
  it('adapter/shadowscale.example.yaml is valid', async () => {
    const { readFileSync } = await import('node:fs');
    const file = new URL('../adapter/shadowscale.example.yaml', import.meta.url);
    const config = parseConfig(readFileSync(file, 'utf8'), 'shadowscale.example.yaml');
    expect(config.workloads[0].slo.latencyP99).toBe(0.5);
    expect(config.receiver?.tokenFile).toBe('/etc/shadowscale/receiver-token');
  });
});

describe('the receiver settings', () => {
  it('fills in defaults: Kubernetes target, no leader election, a 5 m cooldown, an HPA named after the primary, no router', () => {
    const config = parseConfig(`${VALID}receiver: { listen: "127.0.0.1:8081" }\n`);
    expect(config.receiver).toMatchObject({ target: 'kubernetes', cooldown: 300, minHold: 600, prescaleMax: 3600, maxRoleChangesPerHour: 2, signalRefresh: 5, leaderElection: { enabled: false } });
    expect(config.workloads[0]).toMatchObject({ actions: true, autoscaler: { kind: 'HorizontalPodAutoscaler' }, router: { kind: 'None' } });
  });

  it('names the bad field of a router, and inconsistent election timings', () => {
    expect(errorOf(VALID.replace('    model: auto\n', '    model: auto\n    router: { kind: Ingress, name: x }\n'))).toMatch(/workloads\[0\]\.router\.kind/);
    expect(errorOf(VALID.replace('    model: auto\n', '    model: auto\n    router: { kind: HTTPRoute, name: checkout }\n'))).toMatch(/workloads\[0\]\.router\.port/);
    expect(errorOf(`${VALID}receiver: { leaderElection: { enabled: true, leaseDuration: 2s, retryPeriod: 5s } }\n`)).toMatch(/receiver\.leaderElection: retryPeriod must be shorter than leaseDuration/);
    expect(errorOf(`${VALID}receiver: { tokenFile: a, tokenEnv: B }\n`)).toMatch(/receiver: use either tokenFile or tokenEnv/);
  });

  it('reads the signals of every workload every signalRefresh, or when wanted with off', () => {
    expect(parseConfig(`${VALID}receiver: { signalRefresh: 'off' }\n`).receiver?.signalRefresh).toBe('off');
    expect(parseConfig(`${VALID}receiver: { signalRefresh: 30s }\n`).receiver?.signalRefresh).toBe(30);
    expect(errorOf(`${VALID}receiver: { signalRefresh: 0s }\n`)).toMatch(/receiver\.signalRefresh/);
    expect(errorOf(`${VALID}receiver: { signalRefresh: sometimes }\n`)).toMatch(/receiver\.signalRefresh/);
  });
});
