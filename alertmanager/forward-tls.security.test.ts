/**
 * Forwarding over TLS: with `receiver.tls`, the receiver serves HTTPS and a follower hands webhooks
 * (and Alertmanager's bearer token) to the leader only over TLS, to a certificate its CA signed for
 * the expected name, never skipping the check; a renewed certificate is served without a restart.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pino } from 'pino';
import { generate } from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';

import { parseConfig } from '../core/config.ts';
import { ca, servedCommonName, serverCert, type Pems } from '../test/harness/certs.ts';
import { until } from '../test/harness/wait.ts';
import { MemoryAudit } from './audit.ts';
import { startReceiver, type RunningReceiver } from './service.ts';

const TOKEN = 'forwarded-token-0123456789abcdef';
const SERVICE_NAME = 'shadowscale-receiver.shadowscale.svc';
const dir = mkdtempSync(join(tmpdir(), 'shadowscale-forward-tls-'));
const running: RunningReceiver[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

/** A server certificate naming only the Service's DNS name (no IP), as cert-manager would issue it. */
async function serviceCert(issuer: Pems): Promise<Pems> {
  return generate([{ name: 'commonName', value: SERVICE_NAME }], {
    keySize: 2048,
    algorithm: 'sha256',
    ca: { key: issuer.private, cert: issuer.cert },
    extensions: [{ name: 'basicConstraints', cA: false }, { name: 'extKeyUsage', serverAuth: true }, { name: 'subjectAltName', altNames: [{ type: 2, value: SERVICE_NAME }] }],
  });
}

function files(name: string, pems: Pems, issuer: Pems) {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const caFile = join(dir, `${name}-ca.crt`);
  writeFileSync(certFile, pems.cert);
  writeFileSync(keyFile, pems.private);
  writeFileSync(caFile, issuer.cert);
  return { certFile, keyFile, caFile };
}

async function receiver(tls: { certFile: string; keyFile: string; caFile?: string; serverName?: string }, leaderAddress?: string, audit = new MemoryAudit()) {
  const config = parseConfig(`
prometheus: { url: http://127.0.0.1:9 }
receiver:
  listen: "127.0.0.1:0"
  tokenEnv: TOKEN
  target: local
  tls: ${JSON.stringify(tls)}
workloads:
  - name: checkout
    namespace: shop
    load: up
    capacityPerReplica: 50
    primary: { name: checkout, maxReplicas: 10 }
`);
  const r = await startReceiver(config, {
    env: { TOKEN },
    audit,
    logger: pino({ level: 'silent' }),
    noResync: true,
    tlsReloadMs: 100,
    signals: { shadowReady: async () => false, plan: async () => undefined },
    leadership: leaderAddress ? { isLeader: () => false, leaderAddress: () => leaderAddress } : { isLeader: () => true, leaderAddress: () => undefined },
  });
  running.push(r);
  return r;
}

function post(url: string, trust: string): Promise<{ status: number; body: any }> {
  const body = JSON.stringify({ version: '4', groupKey: 'g', status: 'firing', receiver: 'shadowscale', alerts: [{ status: 'firing', labels: { alertname: 'ShadowscaleLoadAnomaly', namespace: 'shop', workload: 'checkout', shadowscale_action: 'prescale' }, annotations: {}, startsAt: new Date().toISOString(), fingerprint: 'f1' }] });
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}/alertmanager`, { method: 'POST', ca: trust, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const address = (r: RunningReceiver) => r.url.replace('https://', '');

describe('followers forward over TLS', () => {
  it('reach a leader whose certificate the configured CA signed, and only such a leader', async () => {
    const clusterCa = await ca('shadowscale-ca');
    const leaderAudit = new MemoryAudit();
    const leader = await receiver(files('leader', await serverCert('leader', clusterCa), clusterCa), undefined, leaderAudit);
    expect(leader.url).toMatch(/^https:\/\//);
    const follower = await receiver(files('follower', await serverCert('follower', clusterCa), clusterCa), address(leader));
    const ok = await post(follower.url, clusterCa.cert);
    expect(ok.status).toBe(200);
    expect(ok.body.recorded).toBe(1);
    expect(leaderAudit.events.filter((e) => e.event === 'webhook')).toHaveLength(1);

    // A follower that trusts another CA does not talk to this leader: the handshake fails before the
    // token is sent, and Alertmanager is told to retry.
    const otherCa = await ca('someone-else');
    const wary = await receiver({ ...files('wary', await serverCert('wary', otherCa), otherCa) }, address(leader));
    const refused = await post(wary.url, otherCa.cert);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatch(/unreachable: .*(certificate|self.signed|issuer)/i);
    expect(leaderAudit.events.filter((e) => e.event === 'webhook')).toHaveLength(1);
  });

  it("checks the Service's DNS name when the certificate names no pod IP", async () => {
    const clusterCa = await ca('shadowscale-ca');
    const pair = files('svc', await serviceCert(clusterCa), clusterCa);
    const leader = await receiver(pair);
    const byAddress = await receiver(files('f1', await serverCert('f1', clusterCa), clusterCa), address(leader));
    const refused = await post(byAddress.url, clusterCa.cert);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatch(/altnames|IP: 127\.0\.0\.1/i);
    const byName = await receiver({ ...files('f2', await serverCert('f2', clusterCa), clusterCa), serverName: SERVICE_NAME }, address(leader));
    expect((await post(byName.url, clusterCa.cert)).status).toBe(200);
  });

  it('serves a renewed certificate without a restart, and keeps the old one while the new pair does not match', async () => {
    const clusterCa = await ca('shadowscale-ca');
    const first = await serverCert('first', clusterCa);
    const pair = files('renew', first, clusterCa);
    const r = await receiver(pair);
    const served = () => servedCommonName(`${r.url}/healthz`, clusterCa.cert);
    expect(await served()).toBe('first');
    const second = await serverCert('second', clusterCa);
    // Half-written: the new certificate with the old key. Not loaded.
    writeFileSync(pair.certFile, second.cert);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await served()).toBe('first');
    writeFileSync(pair.keyFile, second.private);
    await until('renewed certificate served', async () => (await served()) === 'second', 5000, 100);
  });
});
