/**
 * Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: the
 * holder renews every retryPeriod; a candidate takes over only when it has seen the same record unchanged
 * for a whole leaseDuration by its own clock (no clock comparison across machines); every write carries
 * the read resourceVersion, so two candidates can never both win. The leader's address is published
 * in an annotation so that followers can forward webhooks to it; anyone who may write the Lease could
 * write any address there, so with `confirmPort` a follower forwards (with Alertmanager's bearer
 * token) only once the holder's own Pod, in the Lease's namespace, confirms it: its pod IP and the
 * receivers' port.
 */
import type { Leadership } from './server.ts';
import { microTime, statusOf, type KubeApis } from '../platform/kubernetes.ts';

export const ADDRESS_ANNOTATION = 'shadowscale.io/receiver-address';

export interface LeaseSettings {
  namespace: string;
  name: string;
  identity: string;
  /** host:port at which this replica receives forwarded webhooks. */
  advertise?: string;
  leaseDurationSeconds: number;
  retryPeriodSeconds: number;
  /**
   * Forward only to an address the holder's Pod (named by its identity, in `namespace`) confirms: its
   * pod IP, at this port (the receivers' listen port). Undefined: the annotation is trusted as it is.
   */
  confirmPort?: number;
}

export class LeaseElector implements Leadership {
  private leading = false;
  private renewedAt = 0;
  private holder?: string;
  private holderAddress?: string;
  /** `holder|address` confirmed by the holder's Pod, and why the last one was not. */
  private confirmed?: string;
  private unconfirmedWhy?: string;
  private observed?: { record: string; at: number };
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly apis: KubeApis,
    private readonly s: LeaseSettings,
    private readonly onChange: (leading: boolean) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Leading, and renewed within the renew deadline (two thirds of the lease duration, as client-go's
   * default 10 s of 15): a leader that could not renew stops acting well before a candidate may take
   * the Lease over, so that its last write lands before anyone else's first.
   */
  isLeader(): boolean {
    return this.leading && this.now() - this.renewedAt < this.renewDeadlineMs();
  }

  private renewDeadlineMs(): number {
    return (this.s.leaseDurationSeconds * 1000 * 2) / 3;
  }

  leaderAddress(): string | undefined {
    if (!this.holder || this.holder === this.s.identity || !this.holderAddress) return undefined;
    if (this.s.confirmPort !== undefined && this.confirmed !== `${this.holder}|${this.holderAddress}`) return undefined;
    return this.holderAddress;
  }

  /** Why the leader's published address is not used, when it is not. */
  unconfirmed(): string | undefined {
    return this.leaderAddress() === undefined ? this.unconfirmedWhy : undefined;
  }

  /** Does the holder's Pod confirm `address` (its pod IP, the receivers' port)? */
  private async confirm(holder: string, address: string): Promise<void> {
    const key = `${holder}|${address}`;
    if (this.confirmed === key) return;
    this.confirmed = undefined;
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(at + 1));
    if (port !== this.s.confirmPort) {
      this.unconfirmedWhy = `the Lease names ${address}, not the receivers' port ${this.s.confirmPort}`;
      return;
    }
    try {
      const pod = await this.apis.core.readNamespacedPod({ name: holder, namespace: this.s.namespace }, this.apis.options());
      const ips = [...new Set([pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)].filter(Boolean))];
      if (!ips.includes(host)) {
        this.unconfirmedWhy = `the Lease names ${address}, but Pod ${this.s.namespace}/${holder} has ${ips.join(', ') || 'no IP'}`;
        return;
      }
      this.confirmed = key;
      this.unconfirmedWhy = undefined;
    } catch (error) {
      this.unconfirmedWhy = statusOf(error) === 404 ? `the Lease's holder ${holder} is not a Pod of ${this.s.namespace}` : `Pod ${this.s.namespace}/${holder} unreadable: ${(error as Error).message}`;
    }
  }

  async start(): Promise<void> {
    this.running = true;
    await this.tryOnce();
    const loop = () => {
      this.timer = setTimeout(async () => {
        await this.tryOnce();
        if (this.running) loop();
      }, this.s.retryPeriodSeconds * 1000);
      this.timer.unref();
    };
    loop();
  }

  /**
   * Stops campaigning and, when leading, releases the Lease so that a follower takes over at once. Call
   * it once this replica's work has stopped (the service does), not before.
   */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity !== this.s.identity) return;
      const body = { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.now()) } };
      await this.apis.coordination.replaceNamespacedLease({ name: this.s.name, namespace: this.s.namespace, body: body as any }, this.apis.options());
    } catch {
      // Best effort: the lease expires by itself.
    }
  }

  private async read() {
    try {
      return await this.apis.coordination.readNamespacedLease({ name: this.s.name, namespace: this.s.namespace }, this.apis.options());
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** One round of the election. Never throws: an API failure leaves this replica a follower until it renews. */
  async tryOnce(): Promise<void> {
    const now = this.now();
    try {
      const lease = await this.read();
      const spec = {
        holderIdentity: this.s.identity,
        leaseDurationSeconds: this.s.leaseDurationSeconds,
        renewTime: microTime(now),
      };
      const metadata = { name: this.s.name, namespace: this.s.namespace, annotations: { ...(lease?.metadata?.annotations ?? {}), ...(this.s.advertise ? { [ADDRESS_ANNOTATION]: this.s.advertise } : {}) } };
      if (!lease) {
        const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 } };
        await this.apis.coordination.createNamespacedLease({ namespace: this.s.namespace, body: body as any }, this.apis.options());
        return this.won(now);
      }
      const holder = lease.spec?.holderIdentity ?? '';
      const record = `${holder}|${String(lease.spec?.renewTime ?? '')}|${lease.metadata?.resourceVersion ?? ''}`;
      if (this.observed?.record !== record) this.observed = { record, at: now };
      const duration = (lease.spec?.leaseDurationSeconds ?? this.s.leaseDurationSeconds) * 1000;
      const mine = holder === this.s.identity;
      const expired = holder === '' || now - this.observed.at >= duration;
      if (!mine && !expired) {
        this.holder = holder;
        this.holderAddress = lease.metadata?.annotations?.[ADDRESS_ANNOTATION];
        this.setLeading(false);
        if (this.s.confirmPort !== undefined && this.holderAddress) await this.confirm(holder, this.holderAddress);
        return;
      }
      const body = {
        ...lease,
        metadata: { ...lease.metadata, ...metadata },
        spec: {
          ...lease.spec,
          ...spec,
          ...(mine ? {} : { acquireTime: microTime(now), leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 }),
        },
      };
      await this.apis.coordination.replaceNamespacedLease({ name: this.s.name, namespace: this.s.namespace, body: body as any }, this.apis.options());
      this.won(now);
    } catch {
      // A conflict means someone else wrote first; anything else means we cannot prove we lead.
      if (this.leading && now - this.renewedAt >= this.renewDeadlineMs()) this.setLeading(false);
    }
  }

  private won(now: number): void {
    this.holder = this.s.identity;
    this.holderAddress = this.s.advertise;
    this.renewedAt = now;
    this.observed = undefined;
    this.setLeading(true);
  }

  private setLeading(leading: boolean): void {
    if (leading !== this.leading) {
      this.leading = leading;
      this.onChange(leading);
    }
  }
}
