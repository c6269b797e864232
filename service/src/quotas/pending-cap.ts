// PendingCap: no tenant holds more than `max` pending tasks (SPOOL_TENANT_MAX_PENDING), so
// one tenant cannot fill the database. A create that would pass the cap is refused whole
// (all of a CreateTasks, or none) with RESOURCE_EXHAUSTED and a retry delay.
//
// Counting a tenant's pending tasks on every create would cost more than the create, so each
// replica keeps a count per tenant, read from the database (store/pending-count.ts, bounded by
// the cap) and raised by the creates it admits since:
//   - below 90% of the cap, a count is trusted for `relaxedMs` (5 s), and an older one still
//     decides while a new one is read in the background (a create never waits for a count
//     but a tenant's first); from 90%, a count is trusted for `strictMs` (1 s), creates wait
//     for a new one, and a refusal always rests on a count at most that old;
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

  /**
   * The tenant's entry, counted again if its count is too old to decide on `n` more. Far from
   * the cap, an old count still decides while a new one is read in the background: a create
   * waits for a count only for a tenant's first create and near the cap, so the count query
   * (up to max+1 index entries) stays out of a create's latency.
   */
  async #current(tenant: string, n: number): Promise<Entry> {
    const now = this.#o.now();
    this.#sweep(now);
    let entry = this.#entries.get(tenant);
    if (!entry) this.#entries.set(tenant, (entry = { count: 0, at: -Infinity, used: now }));
    entry.used = now;
    const near = entry.count + n > 0.9 * this.#o.max;
    if (now - entry.at < (near ? this.#o.strictMs : this.#o.relaxedMs)) return entry;
    if (!near && entry.at > -Infinity) {
      // A failed background read leaves the old count, and the next create reads again.
      this.#read(tenant, entry, now).catch(() => {});
      return entry;
    }
    await this.#read(tenant, entry, now);
    return entry;
  }

  /** Reads the tenant's count into its entry; concurrent callers share one read. */
  #read(tenant: string, entry: Entry, now: number): Promise<number> {
    if (entry.reading) return entry.reading;
    const reading = this.#o.count(tenant, this.#o.max + 1);
    entry.reading = reading;
    const settle = () => {
      if (entry.reading === reading) entry.reading = undefined;
    };
    // The count starts now: creates admitted while it runs are either in it or not, and
    // adding them again would only err on the side of the cap.
    reading.then((counted) => {
      settle();
      entry.count = counted;
      entry.at = now;
    }, settle);
    return reading;
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < forgetAfterMs) return;
    this.#lastSweep = now;
    for (const [tenant, entry] of this.#entries) {
      if (now - entry.used > forgetAfterMs && !entry.reading) this.#entries.delete(tenant);
    }
  }
}
