/** Certificates for tests: a CA and client certificates it signs (as a front proxy's or KEDA's). */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

import { generate } from 'selfsigned';

export type Pems = Awaited<ReturnType<typeof generate>>;

export async function ca(cn: string): Promise<Pems> {
  return generate([{ name: 'commonName', value: cn }], { keySize: 2048, algorithm: 'sha256', extensions: [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true }] });
}

export async function clientCert(cn: string, issuer: { private: string; cert: string }): Promise<Pems> {
  return generate([{ name: 'commonName', value: cn }], {
    keySize: 2048,
    algorithm: 'sha256',
    ca: { key: issuer.private, cert: issuer.cert },
    extensions: [{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, keyEncipherment: true }, { name: 'extKeyUsage', clientAuth: true }],
  });
}

/** A server certificate for 127.0.0.1 and localhost, signed by `issuer`. */
export async function serverCert(cn: string, issuer: { private: string; cert: string }): Promise<Pems> {
  return generate([{ name: 'commonName', value: cn }], {
    keySize: 2048,
    algorithm: 'sha256',
    ca: { key: issuer.private, cert: issuer.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
}

/** The common name of the certificate a TLS server presents now (a new connection each time). */
export function servedCommonName(url: string, ca?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent: false, ...(ca ? { ca } : { rejectUnauthorized: false }) }, (res) => {
      resolve((res.socket as TLSSocket).getPeerCertificate().subject.CN as string);
      res.resume();
    });
    req.on('error', reject);
  });
}
