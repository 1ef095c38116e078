/**
 * `POST /alertmanager`: authenticate (bearer token, constant-time), bound and parse the body, validate
 * it, record the intent, answer. 2xx once the alerts are durably recorded; 400 naming the bad field;
 * 401 without a valid token; 413 past the size limit; 503 when the intent cannot be recorded right now
 * (state store down, no leader), so that Alertmanager retries. Bad input never causes a 5xx.
 */
import http from 'node:http';
import https from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';

import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';

import { listen } from '../platform/net.ts';
import { tokenMatches } from '../core/bearer.ts';
import { AlertLimitError } from '../core/promotion/promotion.ts';
import type { ReceiverMetrics } from './metrics.ts';
import { parseWebhook, PayloadError } from './payload.ts';
import type { Receiver } from './receiver.ts';

export { tokenMatches };

/** Who acts. Without leader election every replica is the leader. */
export interface Leadership {
  isLeader(): boolean;
  /** host:port of the leader, when known and not this replica. */
  leaderAddress(): string | undefined;
  /** Why a leader's published address is not used, when it is not (not confirmed by its Pod). */
  unconfirmed?(): string | undefined;
}

export const ALWAYS_LEADER: Leadership = { isLeader: () => true, leaderAddress: () => undefined };
const FORWARDED = 'x-shadowscale-forwarded';

export interface WebhookServerOptions {
  receiver: Receiver;
  metrics: ReceiverMetrics;
  logger: Logger;
  /** The bearer token Alertmanager must send; undefined accepts any request (loopback only, enforced by the caller). */
  token?: string;
  maxBodyBytes: number;
  leadership?: Leadership;
  /** Desired states, for GET /status. */
  status?: () => unknown;
  /** Timeout of a webhook forwarded to the leader. */
  forwardTimeoutMs?: number;
  /** Forward to the leader over TLS, trusting `ca` (default: the system's CAs) for `serverName` (default: the leader's address). */
  forwardTls?: { ca?: string; serverName?: string };
  /** Guards /metrics (receiver.metricsAuthentication kubernetes); absent: open. */
  metricsReader?: express.RequestHandler;
}

export function webhookApp(options: WebhookServerOptions): express.Express {
  const { receiver, metrics, logger, token, maxBodyBytes } = options;
  const leadership = options.leadership ?? ALWAYS_LEADER;
  const app = express();
  app.disable('x-powered-by');
  app.get(['/healthz', '/livez'], (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    res.type('text/plain').send(leadership.isLeader() ? 'ok: leader' : `ok: follower of ${leadership.leaderAddress() ?? 'nobody yet'}`);
  });
  app.get('/metrics', ...(options.metricsReader ? [options.metricsReader] : []), async (_req: Request, res: Response) => {
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // The desired states say what the receiver is about to do: for Alertmanager's token holders only.
  app.get('/status', (req, res) => {
    if (token !== undefined && !tokenMatches(req.get('authorization'), token)) {
      res.status(401).set('WWW-Authenticate', 'Bearer realm="shadowscale-receiver"').json({ error: 'missing or invalid bearer token' });
      return;
    }
    res.json({ leader: leadership.isLeader(), workloads: options.status?.() ?? {} });
  });

  app.post(
    '/alertmanager',
    (req: Request, res: Response, next: NextFunction) => {
      if (token !== undefined && !tokenMatches(req.get('authorization'), token)) {
        metrics.webhook('unauthorized');
        res.status(401).set('WWW-Authenticate', 'Bearer realm="shadowscale-receiver"').json({ error: 'missing or invalid bearer token' });
        return;
      }
      next();
    },
    express.raw({ type: () => true, limit: maxBodyBytes }),
    async (req: Request, res: Response) => {
      const receivedAt = performance.now();
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (error) {
        metrics.webhook('invalid');
        res.status(400).json({ error: `body is not JSON: ${(error as Error).message}` });
        return;
      }
      let payload;
      try {
        payload = parseWebhook(body);
      } catch (error) {
        metrics.webhook('invalid');
        res.status(400).json({ error: error instanceof PayloadError ? error.message : String(error) });
        return;
      }
      if (!leadership.isLeader()) {
        await forward(req, raw, res, leadership, metrics, options.forwardTimeoutMs ?? 5000, options.forwardTls);
        return;
      }
      try {
        const result = await receiver.accept(payload, receivedAt);
        metrics.webhook(result.recorded > 0 ? 'accepted' : 'duplicate');
        res.status(200).json(result);
      } catch (error) {
        if (error instanceof AlertLimitError) {
          // The sender's problem, and repeating it would not help: 413, the memory unchanged.
          metrics.webhook('too_large');
          res.status(413).json({ error: error.message });
          return;
        }
        metrics.webhook('unavailable');
        logger.error({ err: error }, 'could not record the alerts');
        res.status(503).set('Retry-After', '5').json({ error: `alerts not recorded, retry: ${(error as Error).message}` });
      }
    },
  );

  app.use((req: Request, res: Response) => {
    res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
  });
  // Body-parser errors (too large, aborted) are the client's; anything else is ours, but never a crash.
  app.use((error: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (error.type === 'entity.too.large') {
      metrics.webhook('too_large');
      res.status(413).json({ error: `body larger than ${maxBodyBytes} bytes (receiver.maxBodyBytes)` });
    } else if (error.status && error.status >= 400 && error.status < 500) {
      metrics.webhook('invalid');
      res.status(error.status).json({ error: error.message });
    } else {
      logger.error({ err: error }, 'request failed');
      metrics.webhook('unavailable');
      res.status(503).json({ error: error.message });
    }
  });
  return app;
}

/** A follower hands the webhook to the leader and answers what the leader answered, or 503. */
async function forward(req: Request, raw: Buffer, res: Response, leadership: Leadership, metrics: ReceiverMetrics, timeoutMs: number, tls?: WebhookServerOptions['forwardTls']): Promise<void> {
  const leader = leadership.leaderAddress();
  if (!leader || req.get(FORWARDED)) {
    metrics.webhook('unavailable');
    res.status(503).set('Retry-After', '5').json({ error: leader ? 'forwarded to a replica that is not the leader' : `no leader to forward to${leadership.unconfirmed?.() ? ` (${leadership.unconfirmed()})` : ' elected yet'}` });
    return;
  }
  try {
    const headers = { 'content-type': 'application/json', authorization: req.get('authorization') ?? '', [FORWARDED]: '1' };
    const answer = tls ? await postTls(leader, raw, headers, tls, timeoutMs) : await postPlain(leader, raw, headers, timeoutMs);
    metrics.webhook(answer.status < 300 ? 'forwarded' : 'unavailable');
    res.status(answer.status).type('application/json').send(answer.text);
  } catch (error) {
    metrics.webhook('unavailable');
    res.status(503).set('Retry-After', '5').json({ error: `leader ${leader} unreachable: ${(error as Error).message}` });
  }
}

async function postPlain(leader: string, body: Buffer, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; text: string }> {
  const answer = await fetch(`http://${leader}/alertmanager`, { method: 'POST', headers, body: new Uint8Array(body), signal: AbortSignal.timeout(timeoutMs) });
  return { status: answer.status, text: await answer.text() };
}

/** POST over HTTPS, the leader's certificate checked against the configured CA and name (never skipped). */
function postTls(leader: string, body: Buffer, headers: Record<string, string>, tls: NonNullable<WebhookServerOptions['forwardTls']>, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `https://${leader}/alertmanager`,
      { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.serverName ? { servername: tls.serverName, checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(tls.serverName!, cert) } : {}), timeout: timeoutMs },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function serveWebhook(app: express.Express, address: string, tls?: { cert: string; key: string }): Promise<{ server: http.Server | https.Server; address: string }> {
  const server = tls ? https.createServer(tls, app) : http.createServer(app);
  // Alertmanager keeps connections alive; bound how long a slow client can hold one.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return { server, address: await listen(server, address) };
}
