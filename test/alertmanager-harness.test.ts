import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlertmanager, type AlertmanagerServer } from '../platform/runtime/alertmanager.ts';

describe('real Alertmanager harness', () => {
  let alertmanager: AlertmanagerServer;
  let webhook: Server;
  const received: Array<{ status: string; alerts: Array<{ labels: Record<string, string> }> }> = [];

  beforeAll(async () => {
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    const port = (webhook.address() as { port: number }).port;
    alertmanager = await startAlertmanager(
      [
        'route: { receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s }',
        'receivers:',
        `- name: hook`,
        `  webhook_configs: [{ url: "http://127.0.0.1:${port}/alertmanager", send_resolved: true }]`,
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await alertmanager?.stop();
    webhook?.close();
  });

  it('delivers a posted alert to a loopback webhook in the version-4 payload', async () => {
    const response = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: { alertname: 'HarnessProbe', workload: 'checkout' } }]),
    });
    expect(response.status).toBe(200);
    const deadline = Date.now() + 10_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ version: '4', status: 'firing' });
    expect(received[0].alerts[0].labels).toEqual({ alertname: 'HarnessProbe', workload: 'checkout' });
  });

  it('stops by PID', async () => {
    const pid = alertmanager.pid;
    await alertmanager.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
