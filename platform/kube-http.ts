/**
 * The HTTP layer under @kubernetes/client-node, on undici with kept connections.
 *
 * client-node 1.4 sends every call through node-fetch with a new agent, so each call opens a new TCP
 * and TLS connection (hundreds of milliseconds in a burst). Its agents cannot simply be made
 * keep-alive: node-fetch 2 mistakes a reused socket for a truncated chunked body and fails with
 * "Premature close". This library takes the TLS settings client-node puts on
 * each request (CA, client certificate and key, server name, verification) and sends the request
 * through one undici pool per set of settings, which keeps connections open and honours the server's
 * keep-alive hints.
 *
 * A connection the server closes just as a request is written on it fails that request with a socket
 * error. Such a request is sent once more, on a new connection, when sending it twice cannot do harm:
 * reads, PUT and DELETE, and a merge patch that names the resourceVersion it applies to (the API
 * server refuses it if the object changed meanwhile). Creates and other patches are not repeated.
 */
import type http from 'node:http';
import https from 'node:https';

import { ResponseContext, wrapHttpLibrary, type HttpLibrary, type RequestContext } from '@kubernetes/client-node';
import { Agent, Client, errors, request, type Dispatcher } from 'undici';

/** How long an idle connection is kept when the server does not say (the API server keeps them longer). */
const IDLE_MS = 30_000;

/** Socket-level failures: the connection died under the request (not a timeout, not an HTTP status). */
const SOCKET_ERRORS = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

function socketError(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string } };
  return error instanceof errors.SocketError || SOCKET_ERRORS.has(e?.code ?? '') || SOCKET_ERRORS.has(e?.cause?.code ?? '');
}

/** Whether sending `method` with `body` twice cannot change the outcome. */
export function safeToRepeat(method: string, body: unknown): boolean {
  if (['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'].includes(method)) return true;
  if (method !== 'PATCH' || typeof body !== 'string') return false;
  try {
    const patch = JSON.parse(body) as { metadata?: { resourceVersion?: unknown } };
    return typeof patch?.metadata?.resourceVersion === 'string' && patch.metadata.resourceVersion !== '';
  } catch {
    return false;
  }
}

export interface KeepAliveHttp extends HttpLibrary {
  /** Requests sent again after their connection died under them (the "premature close" case). */
  readonly resent: () => number;
  close(): Promise<void>;
}

/** One undici pool per TLS setting seen, for the life of the process (a kubeconfig has one or two). */
export function keepAliveHttpLibrary(options: { connections?: number } = {}): KeepAliveHttp {
  const pools = new Map<string, { pool: Agent; connect: Record<string, unknown> }>();
  let resent = 0;
  const poolFor = (agent: http.Agent | undefined): { pool: Agent; connect: Record<string, unknown> } => {
    const o = (agent instanceof https.Agent ? agent.options : {}) as https.AgentOptions;
    const tls = { ca: o.ca, cert: o.cert, key: o.key, servername: o.servername, rejectUnauthorized: o.rejectUnauthorized };
    const key = JSON.stringify(tls);
    let entry = pools.get(key);
    if (!entry) {
      const connect = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined));
      entry = { pool: new Agent({ connections: options.connections ?? 32, keepAliveTimeout: IDLE_MS, keepAliveMaxTimeout: IDLE_MS, connect }), connect };
      pools.set(key, entry);
    }
    return entry;
  };
  const sendOnce = async (context: RequestContext, pool: Dispatcher): Promise<ResponseContext> => {
    const body = context.getBody() as string | Buffer | undefined;
    const res = await request(context.getUrl(), {
      method: context.getHttpMethod() as never,
      headers: context.getHeaders(),
      body: body ?? null,
      signal: context.getSignal(),
      dispatcher: pool,
    });
    // Read whole before answering: a body left unread would hold the connection.
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    return new ResponseContext(res.statusCode, headers, { text: async () => bytes.toString('utf8'), binary: async () => bytes });
  };
  const library = wrapHttpLibrary({
    async send(context: RequestContext): Promise<ResponseContext> {
      const { pool, connect } = poolFor(context.getAgent() as http.Agent | undefined);
      try {
        return await sendOnce(context, pool);
      } catch (error) {
        if (!socketError(error) || context.getSignal()?.aborted || !safeToRepeat(context.getHttpMethod(), context.getBody())) throw error;
        resent++;
        // On a connection of its own: the pool's other idle connections may be as old as the one that
        // died, and as close to the server's idle timeout.
        const fresh = new Client(new URL(context.getUrl()).origin, { connect });
        try {
          return await sendOnce(context, fresh);
        } finally {
          fresh.close().catch(() => undefined);
        }
      }
    },
  });
  return Object.assign(library, {
    resent: () => resent,
    async close() {
      await Promise.all([...pools.values()].map((p) => p.pool.close()));
      pools.clear();
    },
  });
}
