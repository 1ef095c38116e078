import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.ts';
import { prometheusClientFromConfig } from '../platform/prometheus.ts';
import { SecretError } from '../platform/secrets.ts';

describe('Prometheus connection from the configuration', () => {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
  });
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'shadowscale-secrets-'));

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    writeFileSync(join(dir, 'token'), 's3cret-token\n');
    writeFileSync(join(dir, 'password'), 'hunter2\n');
  });
  afterAll(() => server.close());

  const config = (prometheus: string) =>
    parseConfig(`prometheus: ${prometheus}\nworkloads: [{ name: a, namespace: b, load: up, capacityPerReplica: 1, primary: { name: a, maxReplicas: 2 } }]\n`);

  it('sends the bearer token read from a file, without its trailing newline', async () => {
    await prometheusClientFromConfig(config(`{ url: "${url}", bearerTokenFile: "${join(dir, 'token')}" }`)).query('up');
    expect(seen.at(-1)!.authorization).toBe('Bearer s3cret-token');
  });

  it('sends the bearer token from an environment variable', async () => {
    await prometheusClientFromConfig(config(`{ url: "${url}", bearerTokenEnv: PROM_TOKEN }`), { PROM_TOKEN: 'from-env' }).query('up');
    expect(seen.at(-1)!.authorization).toBe('Bearer from-env');
  });

  it('sends basic auth with the password from a file, and extra headers', async () => {
    const cfg = config(`{ url: "${url}", basicAuth: { username: ops, passwordFile: "${join(dir, 'password')}" }, headers: { X-Scope-OrgID: tenant-a } }`);
    await prometheusClientFromConfig(cfg).query('up');
    expect(seen.at(-1)!.authorization).toBe(`Basic ${Buffer.from('ops:hunter2').toString('base64')}`);
    expect(seen.at(-1)!['x-scope-orgid']).toBe('tenant-a');
  });

  it('names the missing file or variable of a secret', () => {
    expect(() => prometheusClientFromConfig(config(`{ url: "${url}", bearerTokenFile: /nonexistent/token }`))).toThrow(new SecretError('prometheus bearer token: cannot read /nonexistent/token: ENOENT'));
    expect(() => prometheusClientFromConfig(config(`{ url: "${url}", bearerTokenEnv: NOPE }`), {})).toThrow('prometheus bearer token: environment variable NOPE is not set');
    expect(() => prometheusClientFromConfig(config(`{ url: "${url}", caFile: /nonexistent/ca.pem }`))).toThrow('prometheus.caFile: cannot read /nonexistent/ca.pem: ENOENT');
  });
});
