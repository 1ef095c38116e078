/** What sends traffic to the serving set and a mirrored share to the standby: HTTPRoute or a Service selector. */
export interface Router {
  /** Who serves and who gets the mirror; `programmed`: has the data plane taken the current spec (undefined: the router does not say). */
  observe(): Promise<{ active: string; mirror?: string; mirrorPercent: number; programmed?: boolean; programmedWhy?: string }>;
  set(active: string, mirror: string, mirrorPercent: number): Promise<void>;
}
