// Claimer: one claim for the scheduler, with what claim.ts needs carried between claims:
//   - the tenant served last, so that one-at-a-time claims go round every tenant;
//   - priority aging: each claim gives a tenth of itself (agedShare, drawn at random for the
//     remainder) to aged tasks first, those that waited past agingMs, oldest first;
//   - whether to lock the limited queues. A claim that locks none is one statement, and takes
//     nothing from a limited queue; it says when one has a task due (limitedDue). Then, and
//     while a claim that locked them leaves their tasks behind, claims run in a transaction
//     that first locks the limited queues' rows no other claim holds (lockLimitedQueues),
//     then claims: claims of a limited queue are serial across the cluster. BEGIN, the two
//     statements and COMMIT go in one round trip (pipelined). So a replica pays for the
//     locks only while a limited queue has work, and a task of an idle limited queue waits
//     one extra claim.
// It runs on the claim connection (database.ts: plannedOnceSettings), one claim at a time,
// and announces what it claimed once committed (notify.ts).
import type { Pool } from "../store/database.js";
import type { Notices } from "../store/notify.js";
import { agedShare, claimFromRows, claimQuery, claimTasks, lastServed, lockLimitedQueues, type Claim } from "../store/claim.js";

type ClaimRows = Parameters<typeof claimFromRows>[0];

export interface ClaimerOptions {
  sql: Pool;
  owner: string;
  /** The queues this replica serves (SPOOL_QUEUES); undefined: all. */
  queues: readonly string[] | undefined;
  /** A task that has waited this long past its run_at is aged (SPOOL_PRIORITY_AGING_MS). */
  agingMs: number;
  /** Where the claimed tasks are announced (WatchTask followers learn they run). */
  notices: Notices;
}

export class Claimer {
  readonly #o: ClaimerOptions;
  #lastTenant = "";
  /** Whether the next claim locks the limited queues. */
  #locking = false;

  constructor(options: ClaimerOptions) {
    this.#o = options;
  }

  /** A queue's settings changed (a limit set, a queue resumed): look at the limited queues again. */
  queuesChanged(): void {
    this.#locking = true;
  }

  /** Claims up to `limit` tasks of `kinds`. */
  async claim(limit: number, kinds: readonly string[]): Promise<Claim> {
    const { sql, owner, queues } = this.#o;
    const request = { limit, owner, kinds, after: this.#lastTenant, queues, aged: agedShare(limit), agingMs: this.#o.agingMs };
    const locking = this.#locking;
    const claim = locking
      ? claimFromRows(await lockedClaim(sql, (tx) => [lockLimitedQueues(tx, queues), claimQuery(tx, request)]))
      : await claimTasks(sql, request);
    // Lock next time if a limited queue has work this claim could not take, or still had
    // work after it (the limited queues it locked: held back, or more of them due).
    this.#locking = claim.limitedDue || (locking && (claim.held || claim.more));
    this.#lastTenant = lastServed(claim.tasks, this.#lastTenant);
    if (claim.tasks.length > 0) this.#o.notices.tasks(claim.tasks.map((task) => task.id));
    // A due task was left for a claim that locks: make it now rather than at the next wake.
    return claim.limitedDue && !locking ? { ...claim, more: true } : claim;
  }
}

/**
 * Runs the lock and the claim in one transaction in one round trip: BEGIN, both statements
 * and COMMIT are pipelined on one reserved connection. sql.begin waits for BEGIN, then for
 * the statements, then for COMMIT: three round trips, and since a limited queue's tasks are
 * claimed one claim at a time, each round trip capped its throughput. A failed statement
 * aborts the transaction, and the COMMIT after it rolls back. The connection goes back to
 * the pool only once all four have answered, never in the middle of the transaction.
 */
async function lockedClaim(sql: Pool, statements: (tx: Pool) => [ReturnType<typeof lockLimitedQueues>, ReturnType<typeof claimQuery>]): Promise<ClaimRows> {
  const tx = await sql.reserve();
  try {
    // postgres.js sends a statement when it is first awaited: allSettled awaits them in order.
    const begin = tx`begin`;
    const [lock, claim] = statements(tx);
    const results = await Promise.allSettled([begin, lock, claim, tx`commit`]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    return (results[2] as PromiseFulfilledResult<ClaimRows>).value;
  } finally {
    tx.release();
  }
}
