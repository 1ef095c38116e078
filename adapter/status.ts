/**
 * The Kubernetes `Status` object that the aggregated API answers errors with (what kubectl and the HPA
 * controller print), built in one place for the values path, the Express routes and the front-proxy check.
 */
import type { Response } from 'express';

export function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

export function sendStatus(res: Response, code: number, reason: string, message: string): void {
  res.status(code).type('application/json').send(statusBody(code, reason, message));
}
