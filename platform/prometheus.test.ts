import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixture, NASA_TWO_WEEKS } from '../test/harness/fixtures.ts';
import { shiftToNow } from './runtime/openmetrics.ts';
import { freePort } from './runtime/ports.ts';
import { startPrometheus, type PrometheusServer } from './runtime/prometheus.ts';
import { PrometheusClient, PrometheusQueryError } from './prometheus.ts';

describe('PrometheusClient against a real Prometheus', () => {
  const trace = loadFixture(NASA_TWO_WEEKS);
  const timestamps = shiftToNow(trace.timestamps, 120);
  let prometheus: PrometheusServer;
  let client: PrometheusClient;

  beforeAll(async () => {
    prometheus = await startPrometheus({
      history: [{ name: 'load_rpm', labels: { workload: 'nasa', namespace: 'web' }, timestamps, values: trace.values }],
    });
    client = new PrometheusClient({ url: prometheus.url, timeoutSeconds: 10 });
  });
  afterAll(async () => prometheus?.stop());

  it('pages a two-week range at one-minute steps (20,160 points) past the 11,000-point limit', async () => {
    const [series, ...rest] = await client.queryRange('load_rpm', timestamps[0], timestamps[timestamps.length - 1], 60);
    expect(rest).toHaveLength(0);
    expect(series.labels).toEqual({ __name__: 'load_rpm', workload: 'nasa', namespace: 'web' });
    expect(series.timestamps).toEqual(timestamps);
    expect(series.values).toEqual(trace.values);
  });

  it('answers an instant query', async () => {
    const [sample] = await client.query('sum(load_rpm)', timestamps[timestamps.length - 1]);
    expect(sample.value).toBe(trace.values[trace.values.length - 1]);
  });

  it('reports a bad PromQL with the query and Prometheus\' errorType, without retrying', async () => {
    const error = await client.queryRange('sum(rate(load_rpm[5m]', timestamps[0], timestamps[10], 60).catch((e) => e);
    expect(error).toBeInstanceOf(PrometheusQueryError);
    expect(error.status).toBe(400);
    expect(error.errorType).toBe('bad_data');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/failed for query "sum\(rate\(load_rpm\[5m\]": bad_data: .*parse error/);
    expect(error.message).not.toMatch(/attempts/);
  });
});

describe('PrometheusClient retries', () => {
  let requests = 0;
  let plan: Array<(res: ServerResponse) => void> = [];
  let encodings: Array<string | undefined> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests++;
    encodings.push(req.headers['accept-encoding']);
    req.resume();
    const next = plan.shift();
    if (next) next(res);
    else success(res);
  });
  let url: string;

  function success(res: ServerResponse) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '42'] }] } }));
  }
  function status(code: number, errorType: string) {
    return (res: ServerResponse) => {
      res.statusCode = code;
      res.end(JSON.stringify({ status: 'error', errorType, error: `injected ${code}` }));
    };
  }

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it('asks for uncompressed answers (no inflating on the serving thread), unless the configuration sets the header', async () => {
    encodings = [];
    await new PrometheusClient({ url, timeoutSeconds: 5 }).query('up');
    await new PrometheusClient({ url, timeoutSeconds: 5, headers: { 'Accept-Encoding': 'gzip' } }).query('up');
    expect(encodings).toEqual(['identity', 'gzip']);
  });

  it('merges the configured headers by name whatever their letter case; credentials and the form content type stay its own', async () => {
    let raw: string[] = [];
    const spy = (req: IncomingMessage) => (raw = req.rawHeaders);
    server.prependListener('request', spy);
    try {
      const client = new PrometheusClient({ url, timeoutSeconds: 5, headers: { 'accept-encoding': 'identity', 'X-Scope-OrgID': 'tenant-a', authorization: 'Bearer configured', 'content-type': 'text/plain' }, bearerToken: 'from-secret' });
      await client.query('up');
      await client.close();
    } finally {
      server.removeListener('request', spy);
    }
    // Every value sent under a name, in any letter case (rawHeaders: name, value, name, value, ...).
    const values = (name: string) => {
      const found: string[] = [];
      for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) found.push(raw[i + 1]);
      return found;
    };
    expect(values('accept-encoding')).toEqual(['identity']);
    expect(values('authorization')).toEqual(['Bearer from-secret']);
    expect(values('content-type')).toEqual(['application/x-www-form-urlencoded']);
    expect(values('x-scope-orgid')).toEqual(['tenant-a']);
  });

  it('sends through HTTP_PROXY, except to the hosts NO_PROXY names, both read when the client is made', async () => {
    // A proxy that tunnels (HTTP CONNECT, as undici asks a proxy) and notes where to.
    const proxied: string[] = [];
    const tunnels: Socket[] = [];
    const proxy = createServer();
    proxy.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      proxied.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      tunnels.push(socket, upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY, http_proxy: process.env.http_proxy, no_proxy: process.env.no_proxy };
    const before = requests;
    try {
      delete process.env.http_proxy;
      delete process.env.no_proxy;
      process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      process.env.NO_PROXY = 'prometheus.monitoring.svc';
      const viaProxy = new PrometheusClient({ url, timeoutSeconds: 5 });
      process.env.NO_PROXY = '127.0.0.1';
      const direct = new PrometheusClient({ url, timeoutSeconds: 5 });
      // Changed after it was made: the first client keeps what it read.
      await viaProxy.query('up');
      await direct.query('up');
      await Promise.all([viaProxy.close(), direct.close()]);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      for (const socket of tunnels) socket.destroy();
      proxy.close();
    }
    // Both reached the server, one of them through the proxy.
    expect(proxied).toEqual([url.replace('http://', '')]);
    expect(requests - before).toBe(2);
  });

  it('reads an answer the configuration asked compressed, and sends basic auth', async () => {
    let authorization: string | undefined;
    plan = [
      (res) => {
        res.setHeader('content-type', 'application/json');
        res.setHeader('content-encoding', 'gzip');
        res.end(gzipSync(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '7'] }] } })));
      },
    ];
    const spy = (req: IncomingMessage) => (authorization = req.headers.authorization);
    server.prependListener('request', spy);
    try {
      const client = new PrometheusClient({ url, timeoutSeconds: 5, headers: { 'Accept-Encoding': 'gzip' }, basicAuth: { username: 'ada', password: 's3cret' } });
      expect((await client.query('up'))[0].value).toBe(7);
      expect(authorization).toBe(`Basic ${Buffer.from('ada:s3cret').toString('base64')}`);
      await client.close();
    } finally {
      server.removeListener('request', spy);
    }
  });

  it('retries a proxy\'s error page (not JSON) and names its status', async () => {
    requests = 0;
    plan = Array.from({ length: 3 }, () => (res: ServerResponse) => {
      res.statusCode = 502;
      res.setHeader('content-type', 'text/html');
      res.end('<html><body>Bad Gateway</body></html>');
    });
    const client = new PrometheusClient({ url, timeoutSeconds: 2, backoffMs: 1, retries: 2 });
    await expect(client.query('up')).rejects.toThrow(/failed for query "up": HTTP 502 \(after 3 attempts\)/);
    expect(requests).toBe(3);
  });

  it('retries 503 and 502 and then succeeds', async () => {
    requests = 0;
    plan = [status(503, 'timeout'), status(502, 'unavailable')];
    const client = new PrometheusClient({ url, timeoutSeconds: 2, backoffMs: 5 });
    expect((await client.query('up'))[0].value).toBe(42);
    expect(requests).toBe(3);
  });

  it('does not retry a 422', async () => {
    requests = 0;
    plan = [status(422, 'execution')];
    const client = new PrometheusClient({ url, timeoutSeconds: 2, backoffMs: 5 });
    await expect(client.query('up')).rejects.toThrow('execution: injected 422');
    expect(requests).toBe(1);
  });

  it('gives up after the configured retries and says how many attempts were made', async () => {
    requests = 0;
    plan = Array.from({ length: 10 }, () => status(500, 'internal'));
    const client = new PrometheusClient({ url, timeoutSeconds: 2, backoffMs: 1, retries: 2 });
    await expect(client.query('up')).rejects.toThrow(/internal: injected 500 \(after 3 attempts\)/);
    expect(requests).toBe(3);
    plan = [];
  });

  it('times out a server that does not answer', async () => {
    plan = [() => undefined, () => undefined]; // never respond
    const client = new PrometheusClient({ url, timeoutSeconds: 0.2, backoffMs: 1, retries: 1 });
    const error = await client.query('up').catch((e) => e);
    expect(error).toBeInstanceOf(PrometheusQueryError);
    expect(error.errorType).toBe('timeout');
    expect(error.message).toMatch(/unreachable for query "up": ETIMEDOUT no answer within 0.2 s \(after 2 attempts\)/);
  });

  it('retries a refused connection and reports it', async () => {
    const port = await freePort();
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, timeoutSeconds: 1, backoffMs: 1, retries: 1 });
    await expect(client.query('up')).rejects.toThrow(/unreachable for query "up": ECONNREFUSED .*\(after 2 attempts\)/);
  });
});
