// CreateAdmission: whether a tenant may create `n` tasks now. Two limits, in this order:
//   1. its create rate on this replica (a token bucket, SPOOL_TENANT_CREATE_RATE and _BURST):
//      past it, RESOURCE_EXHAUSTED with the delay after which the same request would pass;
//   2. its pending tasks across the cluster (PendingCap, SPOOL_TENANT_MAX_PENDING).
// Both are per tenant: one tenant at its limits slows no other. A refused request stores
// nothing; a refused CreateTasks is refused whole, as every CreateTasks is all or none.
import { SpoolError } from "../errors.js";
import type { PendingCap } from "./pending-cap.js";

/** Per-key rate limit: 0 when `count` is admitted now, else the ms until it would be. */
export interface RateLimit {
  take(key: string, count: number): number;
}

export class CreateAdmission {
  constructor(
    private readonly pending: PendingCap,
    private readonly rate: { limit: RateLimit; perSecond: number } | undefined,
  ) {}

  async admit(tenant: string, n: number): Promise<void> {
    if (this.rate) {
      const waitMs = this.rate.limit.take(tenant, n);
      if (waitMs > 0) {
        throw new SpoolError(
          "resource_exhausted",
          // The status adds when to retry (api/status.ts).
          `tenant ${JSON.stringify(tenant)} creates tasks faster than the ${this.rate.perSecond} a second it may (SPOOL_TENANT_CREATE_RATE)`,
          { retryAfterMs: Math.ceil(waitMs) },
        );
      }
    }
    await this.pending.admit(tenant, n);
  }
}
