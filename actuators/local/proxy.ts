/**
 * The local traffic router: an HTTP proxy on loopback that sends each request to a ready replica of the
 * serving set (round robin) and a copy of `mirrorPercent` % of them to the mirror set, whose answers are
 * discarded (what Gateway API `RequestMirror` or nginx `mirror` do). With a spill share, that share of
 * the requests goes live to the mirror set instead (what HTTPRoute backend weights do), exactly counted
 * like the mirror. Answers 503 when the serving set has no ready replica.
 */
import http from 'node:http';

import { listen } from '../../platform/net.ts';

export interface RouteState {
  active: string;
  mirror?: string;
  mirrorPercent: number;
  /** Share of live requests sent to the `mirror` set instead (spill-over); 0 or absent: none. */
  spill?: number;
}

export class MirroringProxy {
  private server?: http.Server;
  private next = 0;
  private mirrorNext = 0;
  /** Accumulates mirrorPercent per request; a copy is sent each time it passes 100: an exact share. */
  private mirrorCredit = 0;
  /** The same for the spilled share, in percent. */
  private spillCredit = 0;
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  address = '';
  /** Requests sent to the serving set, and copies sent to the mirror set. */
  served = 0;
  mirrored = 0;
  /** Of the served requests, those sent live to the mirror set (spill-over). */
  spilled = 0;

  constructor(
    public state: RouteState,
    /** Ready ports of a set, by set name. */
    private readonly readyPorts: (set: string) => number[],
  ) {}

  async start(listenAddress: string): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.address = await listen(this.server, listenAddress);
    return this.address;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const { active, mirror, mirrorPercent, spill = 0 } = this.state;
      // A spilled request goes to a ready replica of the mirror set (none ready: it stays).
      let target = active;
      if (mirror && spill > 0) {
        this.spillCredit += Math.round(spill * 100);
        if (this.spillCredit >= 100) {
          this.spillCredit -= 100;
          if (this.readyPorts(mirror).length > 0) target = mirror;
        }
      }
      const ports = this.readyPorts(target);
      if (ports.length === 0) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(`no ready replica of ${active}\n`);
        return;
      }
      const port = target === active ? ports[this.next++ % ports.length] : ports[this.mirrorNext++ % ports.length];
      this.send(port, req, body, (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      }, () => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`replica :${port} of ${target} failed\n`);
      });
      this.served++;
      if (target !== active) this.spilled++;
      if (mirror && mirrorPercent > 0) {
        this.mirrorCredit += mirrorPercent;
        if (this.mirrorCredit >= 100) {
          this.mirrorCredit -= 100;
          const mirrorPorts = this.readyPorts(mirror);
          if (mirrorPorts.length > 0) {
            this.mirrored++;
            this.send(mirrorPorts[this.mirrorNext++ % mirrorPorts.length], req, body, (upstream) => upstream.resume(), () => undefined);
          }
        }
      }
    });
  }

  private send(port: number, req: http.IncomingMessage, body: Buffer, onResponse: (r: http.IncomingMessage) => void, onError: () => void): void {
    const upstream = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${port}` }, agent: this.agent },
      onResponse,
    );
    upstream.on('error', onError);
    upstream.end(body);
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }
}
