import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { MirroringProxy } from './proxy.ts';

/** A replica on loopback that counts what it answers. */
async function replica(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, hits: () => hits, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(ready: { shadow: boolean }) {
  const web = await replica();
  const shadow = await replica();
  const proxy = new MirroringProxy({ active: 'web', mirror: 'web-shadow', mirrorPercent: 10 }, (set) => (set === 'web' ? [web.port] : ready.shadow ? [shadow.port] : []));
  const address = await proxy.start('127.0.0.1:0');
  cleanups.push(() => proxy.stop(), web.close, shadow.close);
  const send = async (n: number) => {
    for (let i = 0; i < n; i++) expect((await fetch(`http://${address}/`)).status).toBe(200);
    // Mirror copies are sent without waiting for them: let them land.
    await new Promise((r) => setTimeout(r, 100));
  };
  return { web, shadow, proxy, send };
}

describe('the local mirroring proxy', () => {
  it('mirrors its share, and while spilling sends that share live to the mirror set with no copies', async () => {
    const { web, shadow, proxy, send } = await setup({ shadow: true });
    await send(100);
    expect([web.hits(), shadow.hits(), proxy.mirrored]).toEqual([100, 10, 10]);
    // What the receiver's route step writes for a 20 % spill: the mirror suspended.
    proxy.state = { active: 'web', mirror: 'web-shadow', mirrorPercent: 0, spill: 0.2 };
    await send(100);
    expect([web.hits() - 100, shadow.hits() - 10, proxy.spilled, proxy.mirrored]).toEqual([80, 20, 20, 10]);
  });

  it('keeps the spilled share on the serving set while the mirror set has no ready replica', async () => {
    const { web, shadow, proxy, send } = await setup({ shadow: false });
    proxy.state = { active: 'web', mirror: 'web-shadow', mirrorPercent: 0, spill: 0.3 };
    await send(50);
    expect([web.hits(), shadow.hits(), proxy.spilled]).toEqual([50, 0, 0]);
  });
});
