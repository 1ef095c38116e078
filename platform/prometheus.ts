/**
 * The Prometheus HTTP API client of both services and the tools (undici): range and instant queries, paging past the
 * 11,000-points-per-series limit, retries with backoff on 5xx and network errors (never on 4xx: a bad
 * query stays bad), timeouts, and errors that name the server, the query and Prometheus' own
 * `errorType`/`error`.
 */
import { readFileSync } from 'node:fs';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { EnvHttpProxyAgent, request, type Dispatcher } from 'undici';

import type { Config } from '../core/config.ts';
import { readSecret, SecretError } from './secrets.ts';

export interface PrometheusClientOptions {
  url: string;
  timeoutSeconds: number;
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
  /** PEM of a CA to trust for https. */
  ca?: string | Buffer;
  insecureSkipVerify?: boolean;
  headers?: Record<string, string>;
  /** Attempts after the first on retryable failures. */
  retries?: number;
  /** First backoff; doubled each retry, with ±50 % jitter. */
  backoffMs?: number;
}

export interface RangeSeries {
  labels: Record<string, string>;
  /** Unix seconds. */
  timestamps: number[];
  /** Parsed sample values; NaN and ±Inf kept as such. */
  values: number[];
}

export interface InstantSample {
  labels: Record<string, string>;
  timestamp: number;
  value: number;
}

export class PrometheusQueryError extends Error {
  constructor(
    message: string,
    readonly query: string,
    readonly status: number | undefined,
    readonly errorType: string | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'PrometheusQueryError';
  }
}

/** Prometheus rejects (end - start) / step > 11,000; stay one point under. */
export const MAX_POINTS_PER_REQUEST = 11_000;

interface ApiEnvelope<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

interface MatrixData {
  resultType: 'matrix';
  result: Array<{ metric: Record<string, string>; values?: Array<[number, string]> }>;
}

interface VectorData {
  resultType: 'vector' | 'scalar';
  result: Array<{ metric: Record<string, string>; value: [number, string] }> | [number, string];
}

export class PrometheusClient {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(readonly options: PrometheusClientOptions) {
    // Uncompressed answers unless the configuration asks otherwise: Prometheus would gzip every answer
    // and this process inflate it on the thread that serves the HPA, for answers that are mostly a few
    // samples (incremental ranges, instant vectors) on a cluster network.
    // Header names compared without their letter case, as HTTP does: a configured `accept-encoding`
    // replaces the default rather than being sent beside it; the credentials and the form body's
    // content type are the client's own.
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    if (options.bearerToken) headers.authorization = `Bearer ${options.bearerToken}`;
    if (options.basicAuth) headers.authorization = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`;
    headers['content-type'] = 'application/x-www-form-urlencoded';
    this.headers = headers;
    this.base = options.url.replace(/\/+$/, '');
    // undici rather than a general-purpose client: with axios, the queries of the refreshes made 43 % of
    // the allocations of the thread that serves the HPA (a 20 s heap sampling of 1,000 workloads in the
    // steady state), and their garbage collections pause that thread. Kept connections; HTTP(S)_PROXY
    // and NO_PROXY are honoured, as axios honoured them, read once here: left to the agent, NO_PROXY
    // was read from the environment at every request, which a CPU profile of the serving thread
    // caught holding it 12 ms in one stretch of queries.
    const tls = { ca: options.ca, rejectUnauthorized: !options.insecureSkipVerify };
    const noProxy = process.env.no_proxy ?? process.env.NO_PROXY ?? '';
    this.dispatcher = new EnvHttpProxyAgent({ connect: tls, requestTls: tls, noProxy } as ConstructorParameters<typeof EnvHttpProxyAgent>[0]);
    this.timeoutMs = options.timeoutSeconds * 1000;
    this.retries = options.retries ?? 3;
    this.backoffMs = options.backoffMs ?? 200;
  }

  /** Lets the kept connections go (a tool that is done with Prometheus). */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /**
   * A range query over [start, end] at `stepSeconds`, split into requests of at most 11,000 points and
   * merged by label set. Timestamps are unix seconds.
   */
  async queryRange(query: string, start: number, end: number, stepSeconds: number, signal?: AbortSignal): Promise<RangeSeries[]> {
    if (!(stepSeconds > 0)) throw new PrometheusQueryError(`query_range "${query}": step must be positive`, query, undefined, 'bad_data', false);
    const merged = new Map<string, RangeSeries>();
    const span = (MAX_POINTS_PER_REQUEST - 1) * stepSeconds;
    for (let from = start; from <= end; from += span + stepSeconds) {
      const to = Math.min(end, from + span);
      const data = await this.call<MatrixData>('/api/v1/query_range', query, { query, start: String(from), end: String(to), step: String(stepSeconds) }, signal);
      for (const series of data.result) {
        const key = labelKey(series.metric);
        let target = merged.get(key);
        if (!target) {
          target = { labels: series.metric, timestamps: [], values: [] };
          merged.set(key, target);
        }
        for (const [t, v] of series.values ?? []) {
          target.timestamps.push(t);
          target.values.push(parseSampleValue(v));
        }
      }
    }
    return [...merged.values()];
  }

  /** An instant query at `time` (unix seconds; now by default). */
  async query(query: string, time?: number, signal?: AbortSignal): Promise<InstantSample[]> {
    const params: Record<string, string> = { query };
    if (time !== undefined) params.time = String(time);
    const data = await this.call<VectorData>('/api/v1/query', query, params, signal);
    if (data.resultType === 'scalar') {
      const [t, v] = data.result as [number, string];
      return [{ labels: {}, timestamp: t, value: parseSampleValue(v) }];
    }
    return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
      labels: s.metric,
      timestamp: s.value[0],
      value: parseSampleValue(s.value[1]),
    }));
  }

  private async call<T>(path: string, query: string, params: Record<string, string>, signal?: AbortSignal): Promise<T> {
    let lastError: PrometheusQueryError | undefined;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) {
        const delay = this.backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random());
        await sleep(delay, signal);
      }
      // A timer cleared once answered (AbortSignal.timeout's lives for the whole timeout: at a hundred
      // queries a second, thousands of them outlived the young generation).
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), this.timeoutMs);
      timer.unref();
      try {
        // POST with a form body: long PromQL does not fit a URL.
        const response = await request(`${this.base}${path}`, {
          method: 'POST',
          headers: this.headers,
          body: new URLSearchParams(params).toString(),
          dispatcher: this.dispatcher,
          signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal,
        });
        const body = parseBody<ApiEnvelope<T>>(decode(Buffer.from(await response.body.arrayBuffer()), response.headers['content-encoding']));
        if (response.statusCode >= 200 && response.statusCode < 300 && body && body.status === 'success' && body.data) return body.data;
        const detail = body && typeof body === 'object' && body.error ? `${body.errorType ?? 'error'}: ${body.error}` : `HTTP ${response.statusCode}`;
        // 5xx (and 429 from proxies) may pass; 4xx means the query or the request is wrong.
        const retryable = response.statusCode >= 500 || response.statusCode === 429;
        lastError = new PrometheusQueryError(
          `Prometheus ${this.options.url}${path} failed for query "${query}": ${detail}`,
          query,
          response.statusCode,
          body?.errorType,
          retryable,
        );
        if (!retryable) throw lastError;
      } catch (error) {
        if (error instanceof PrometheusQueryError) {
          if (!error.retryable) throw error;
          lastError = error;
          continue;
        }
        if (signal?.aborted) throw error;
        const e = error as NodeJS.ErrnoException;
        const timedOut = timeout.signal.aborted;
        const code = timedOut ? 'ETIMEDOUT' : (e.code ?? (e.cause as NodeJS.ErrnoException | undefined)?.code ?? '');
        const message = timedOut ? `no answer within ${this.options.timeoutSeconds} s` : e.message;
        lastError = new PrometheusQueryError(
          `Prometheus ${this.options.url}${path} unreachable for query "${query}": ${code} ${message}`.replace(/\s+/g, ' '),
          query,
          undefined,
          timedOut || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'unavailable',
          true,
        );
      } finally {
        clearTimeout(timer);
      }
    }
    lastError!.message += ` (after ${this.retries + 1} attempts)`;
    throw lastError!;
  }
}

/**
 * A PromQL string literal holding a regular expression that matches exactly these values (for `=~`;
 * Prometheus anchors it), their metacharacters escaped: `checkout.v2` does not match `checkoutXv2`.
 */
export function matchingExactly(values: Iterable<string>): string {
  return JSON.stringify([...new Set(values)].map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
}

export function parseSampleValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v); // "NaN" parses to NaN
}

/** An answer's bytes as sent, inflated when the configuration asked for a compressed one (prometheus.headers). */
function decode(bytes: Buffer, encoding: string | string[] | undefined): string {
  switch (String(encoding ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(bytes).toString('utf8');
    case 'deflate':
      return inflateSync(bytes).toString('utf8');
    case 'br':
      return brotliDecompressSync(bytes).toString('utf8');
    default:
      return bytes.toString('utf8');
  }
}

/** The JSON of an answer; undefined when it is not JSON (a proxy's error page): the status says what happened. */
function parseBody<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** The client the configuration describes (URL, timeout, credentials, CA, headers). */
export function prometheusClientFromConfig(config: Config, env: NodeJS.ProcessEnv = process.env): PrometheusClient {
  const p = config.prometheus;
  const password = p.basicAuth ? readSecret('prometheus.basicAuth password', p.basicAuth.passwordFile, p.basicAuth.passwordEnv, env) : undefined;
  let ca: Buffer | undefined;
  if (p.caFile) {
    try {
      ca = readFileSync(p.caFile);
    } catch (error) {
      throw new SecretError(`prometheus.caFile: cannot read ${p.caFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  return new PrometheusClient({
    url: p.url,
    timeoutSeconds: p.timeout,
    bearerToken: readSecret('prometheus bearer token', p.bearerTokenFile, p.bearerTokenEnv, env),
    basicAuth: p.basicAuth ? { username: p.basicAuth.username, password: password! } : undefined,
    ca,
    insecureSkipVerify: p.insecureSkipVerify,
    headers: p.headers,
  });
}
