// Claimer: one claim for the scheduler, with what claim.ts needs carried between claims:
//   - the tenant served last, so that one-at-a-time claims go round every tenant;
//   - priority aging: each claim gives a tenth of itself (agedShare, drawn at random for the
//     remainder) to aged tasks first, those that waited past agingMs, oldest first;
//   - whether any queue is limited. While none is, a claim is one statement. Once one is,
//     claims run in a transaction that first locks the limited queues' rows no other claim
//     holds (lockLimitedQueues), then claims: claims of a limited queue are serial across the
//     cluster. The two go together in one round trip (pipelined). The flag is re-read on a
//     queue notice (`q:`) and at least every limitedRecheckMs; a stale "none" is safe, since
//     a claim that holds no lock on a limited queue takes nothing from it (claim.ts), and
//     only delays its tasks until the re-read.
import type { Pool } from "../store/database.js";
import { agedShare, claimFromRows, claimQuery, claimTasks, lastServed, lockLimitedQueues, type Claim } from "../store/claim.js";
import { anyQueueLimited } from "../store/queues.js";

type ClaimRows = Parameters<typeof claimFromRows>[0];

const limitedRecheckMs = 5000;

export interface ClaimerOptions {
  sql: Pool;
  owner: string;
  /** The queues this replica serves (SPOOL_QUEUES); undefined: all. */
  queues: readonly string[] | undefined;
  /** A task that has waited this long past its run_at is aged (SPOOL_PRIORITY_AGING_MS). */
  agingMs: number;
}

export class Claimer {
  readonly #o: ClaimerOptions;
  #lastTenant = "";
  #limited = false;
  #limitedReadAt = Number.NEGATIVE_INFINITY;

  constructor(options: ClaimerOptions) {
    this.#o = options;
  }

  /** A queue's settings changed: re-read whether any is limited before the next claim. */
  queuesChanged(): void {
    this.#limitedReadAt = Number.NEGATIVE_INFINITY;
  }

  /** Claims up to `limit` tasks of `kinds`. */
  async claim(limit: number, kinds: readonly string[]): Promise<Claim> {
    const { sql, owner, queues } = this.#o;
    if (performance.now() - this.#limitedReadAt > limitedRecheckMs) {
      this.#limited = await anyQueueLimited(sql);
      this.#limitedReadAt = performance.now();
    }
    const request = { limit, owner, kinds, after: this.#lastTenant, queues, aged: agedShare(limit), agingMs: this.#o.agingMs };
    const claim = this.#limited
      ? claimFromRows((await sql.begin((tx) => [lockLimitedQueues(tx, queues), claimQuery(tx, request)]))[1] as ClaimRows)
      : await claimTasks(sql, request);
    this.#lastTenant = lastServed(claim.tasks, this.#lastTenant);
    return claim;
  }
}
