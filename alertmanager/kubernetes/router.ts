/** What sends traffic to the serving set and a mirrored share to the standby: HTTPRoute or a Service selector. */
export interface Router {
  observe(): Promise<{ active: string; mirror?: string; mirrorPercent: number }>;
  set(active: string, mirror: string, mirrorPercent: number): Promise<void>;
}
