/**
 * A start-up that fails part-way (here an unreadable serving certificate, after the HTTP listener is
 * open) leaves nothing running: the port is free again, so the CLI exits and a retry can bind it.
 */
import http from 'node:http';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';

import { parseConfig } from '../core/config.ts';
import { freePort } from '../platform/runtime/ports.ts';
import { startAdapter } from './server.ts';

describe('an adapter that fails to start', () => {
  it('closes the listener it had opened and rejects with the reason', async () => {
    const port = await freePort();
    const config = parseConfig(
      `prometheus: { url: http://127.0.0.1:9 }
adapter:
  listen: { http: "127.0.0.1:${port}", https: "127.0.0.1:0" }
  tls: { certFile: /nonexistent/tls.crt, keyFile: /nonexistent/tls.key }
workloads:
  - { name: a, namespace: b, load: up, capacityPerReplica: 1, primary: { name: a, maxReplicas: 2 } }
`,
      'failing.yaml',
    );
    await expect(startAdapter(config, { logger: pino({ level: 'silent' }), noWarmup: true })).rejects.toThrow(/adapter\.tls\.certFile: cannot read \/nonexistent\/tls\.crt/);
    const probe = http.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((r) => probe.close(() => r()));
  });
});
