/** Listening addresses (host:port, [v6]:port) as the configuration writes them. */
import type http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';

export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0', port: Number(address.slice(i + 1)) };
}

export function listen(server: http.Server | https.Server, address: string): Promise<string> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve(`${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`);
    });
  });
}
