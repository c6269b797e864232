// PendingCap: no tenant holds more than `max` pending tasks (SPOOL_TENANT_MAX_PENDING), so
// one tenant cannot fill the database. A create that would pass the cap is refused whole
// (all of a CreateTasks, or none) with RESOURCE_EXHAUSTED and a retry delay.
//
// Counting a tenant's pending tasks on every create would cost more than the create, so each
// replica keeps a count per tenant, read from the database (store/pending-count.ts, bounded by
// the cap) and raised by the creates it admits since:
//   - below 90% of the cap, a count is trusted for `relaxedMs` (5 s); from 90%, for
//     `strictMs` (1 s), and a refusal always rests on a count at most that old;
//   - tasks that started running lower the real count: a refused tenant is admitted again
//     once a fresh count has room, within `strictMs`;
//   - other replicas' creates are unseen until the next count: with R replicas the cap can be
//     passed by what the others admit in one interval. It bounds a backlog; it is not exact;
//   - concurrent creates of one tenant share one count query (single flight);
//   - counts of tenants idle for a minute are forgotten, so memory follows active tenants.
import { SpoolError } from "../errors.js";

export interface PendingCapOptions {
  max: number;
  /** Pending tasks of a tenant, exact below `bound`, else `bound`. */
  count: (tenant: string, bound: number) => Promise<number>;
  relaxedMs?: number;
  strictMs?: number;
  now?: () => number;
}

interface Entry {
  count: number;
  at: number;
  used: number;
  reading?: Promise<number>;
}

const forgetAfterMs = 60_000;

export class PendingCap {
  readonly #o: Required<PendingCapOptions>;
  readonly #entries = new Map<string, Entry>();
  #lastSweep = 0;

  constructor(options: PendingCapOptions) {
    this.#o = { relaxedMs: 5000, strictMs: 1000, now: () => performance.now(), ...options };
  }

  /** Admits `n` new pending tasks for `tenant`, or throws RESOURCE_EXHAUSTED. */
  async admit(tenant: string, n: number): Promise<void> {
    const { max, strictMs } = this.#o;
    if (n > max) {
      throw new SpoolError(
        "resource_exhausted",
        `tasks: ${n} tasks at once is more than tenant ${JSON.stringify(tenant)} may have pending (${max}, SPOOL_TENANT_MAX_PENDING)`,
      );
    }
    const entry = await this.#current(tenant, n);
    if (entry.count + n > max) {
      throw new SpoolError(
        "resource_exhausted",
        // The status adds when to retry (api/status.ts).
        `tenant ${JSON.stringify(tenant)} has ${entry.count} pending tasks and may have at most ${max} (SPOOL_TENANT_MAX_PENDING)`,
        { retryAfterMs: strictMs },
      );
    }
    entry.count += n;
  }

  /** The tenant's entry, counted again if its count is too old to decide on `n` more. */
  async #current(tenant: string, n: number): Promise<Entry> {
    const now = this.#o.now();
    this.#sweep(now);
    let entry = this.#entries.get(tenant);
    if (!entry) this.#entries.set(tenant, (entry = { count: 0, at: -Infinity, used: now }));
    entry.used = now;
    const near = entry.count + n > 0.9 * this.#o.max;
    if (now - entry.at < (near ? this.#o.strictMs : this.#o.relaxedMs)) return entry;
    if (!entry.reading) {
      const reading = this.#o.count(tenant, this.#o.max + 1);
      entry.reading = reading;
      const settle = () => {
        if (entry.reading === reading) entry.reading = undefined;
      };
      reading.then(settle, settle);
      // The count starts now: creates admitted while it runs are either in it or not, and
      // adding them again would only err on the side of the cap.
      const counted = await reading;
      entry.count = counted;
      entry.at = now;
      return entry;
    }
    await entry.reading;
    return entry;
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < forgetAfterMs) return;
    this.#lastSweep = now;
    for (const [tenant, entry] of this.#entries) {
      if (now - entry.used > forgetAfterMs && !entry.reading) this.#entries.delete(tenant);
    }
  }
}
