/** What sends traffic to the serving set and a mirrored share to the standby: HTTPRoute or a Service selector. */
export interface Router {
  /**
   * Who serves and who gets the mirror; `programmed`: has the data plane taken the current spec
   * (undefined: the router does not say); `spill`: the share of live traffic that goes to another set
   * than `active` (a weighted split), 0 when none.
   */
  observe(): Promise<{ active: string; mirror?: string; mirrorPercent: number; programmed?: boolean; programmedWhy?: string; spill?: number }>;
  set(active: string, mirror: string, mirrorPercent: number): Promise<void>;
  /**
   * Spill-over (core/promotion/spill.ts): `share` of live traffic (whole percent) to `standby`, the rest
   * to `serving`; the mirror dropped while a share spills, and back at `mirrorPercent` to the standby
   * when the share is 0. Absent where the router cannot split traffic (a Service selector picks one set).
   */
  split?(serving: string, standby: string, share: number, mirrorPercent: number): Promise<void>;
}
