// LeaseKeeper: keeps this replica's lease alive and runs the reaper, every `renewMs`.
//
// - Renewal is one UPDATE for the whole replica, whatever number of tasks it runs. Its
//   success or failure is also the replica's view of the database: `onHealth` reports it
//   (the gRPC health service says NOT_SERVING while the database is unreachable).
// - Renewal runs on a connection of its own: log followers and large flushes on the shared
//   pool once delayed it past the TTL, and the replica lost its lease and ran tasks twice.
// - If a renewal finds the lease gone (a reaper took it while this replica was paused or
//   cut off), `onLost` is told what the replica still owns, so it stops the rest.
// - Each renewal also reports the running attempts whose cancel was requested
//   (`onCancelRequested`): a missed `c:` notice delays a cancel by one renewal, not until the
//   task's timeout. It reports too the attempts recorded as this replica's for longer than a
//   lease period (`onOwned`), for the scheduler to give back those it does not run.
// - Each renewal publishes what the replica says of itself (`view`: version, queues, kinds,
//   threads), so that any replica can answer ListWorkers with figures at most one renewal old.
// - The reaper takes back the tasks of replicas whose leases expired (store/leases.ts). After
//   this replica could not reach the database, it waits one lease period of renewing before
//   reaping again: the other replicas were cut off too and need a renewal of their own before
//   their leases are judged, or one outage would re-run every task in flight.
import type { Logger } from "pino";
import { withTimeout } from "../deadline.js";
import { SpoolError } from "../errors.js";
import type { Sql } from "../store/database.js";
import type { ReplicaView } from "../domain/replica-view.js";
import { reapExpiredLeases, releaseLease, renewLease } from "../store/leases.js";
import { ownedAttempts } from "../store/record-attempts.js";

export interface LeaseKeeperOptions {
  /** A connection of the lease's own (see the header). */
  sql: Sql;
  replica: { id: string; name: string };
  renewMs: number;
  ttlMs: number;
  log: Logger;
  onHealth: (reachable: boolean) => void;
  onLost: (owned: { id: string; attempt: number }[]) => void;
  onCancelRequested: (taskIds: string[]) => void;
  onOwned: (owned: { id: string; attempt: number }[]) => void;
  /** How many attempts a reap took back from replicas whose lease expired. */
  onReaped: (count: number) => void;
  /** What this replica says of itself, published with each renewal (ListWorkers). */
  view: () => ReplicaView;
}

export class LeaseKeeper {
  readonly #o: LeaseKeeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Whether the last renewal reached the database. */
  #reachable = false;
  /** performance.now() before which this replica does not reap (one lease period after an outage). */
  #reapAfter = 0;

  constructor(options: LeaseKeeperOptions) {
    this.#o = options;
  }

  /** Takes the lease and reaps once; throws if the database cannot be reached. */
  async start(): Promise<void> {
    await renewLease(this.#o.sql, this.#o.replica, this.#o.ttlMs, this.#o.ttlMs, this.#o.view());
    this.#reachable = true;
    await this.#reap();
    this.#schedule();
  }

  /**
   * Stops renewing and gives the lease up, so that anything still owned is reaped at once.
   * Bounded: with the database unreachable the lease simply expires.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#tick;
    await withTimeout(releaseLease(this.#o.sql, this.#o.replica.id), timeoutMs, "releasing the lease");
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#tick = this.#renewAndReap().finally(() => this.#schedule());
    }, this.#o.renewMs);
    this.#timer.unref();
  }

  async #renewAndReap(): Promise<void> {
    try {
      const renewal = await withTimeout(
        renewLease(this.#o.sql, this.#o.replica, this.#o.ttlMs, this.#o.ttlMs, this.#o.view()),
        this.#o.ttlMs / 2,
        "renewing the lease",
      );
      if (!this.#reachable) {
        this.#o.log.info("database reachable again");
        this.#reachable = true;
        this.#reapAfter = performance.now() + this.#o.ttlMs;
      }
      this.#o.onHealth(true);
      if (renewal.cancelRequested.length > 0) this.#o.onCancelRequested(renewal.cancelRequested);
      if (renewal.owned.length > 0 && !renewal.created) this.#o.onOwned(renewal.owned);
      if (renewal.created) {
        this.#o.log.warn("this replica's lease had expired and was taken: stopping the attempts it no longer owns");
        this.#o.onLost(await ownedAttempts(this.#o.sql, this.#o.replica.id));
      }
    } catch (error) {
      if (this.#reachable) this.#o.log.warn({ err: SpoolError.from(error) }, "could not renew the lease: database unreachable");
      this.#reachable = false;
      this.#o.onHealth(false);
      return;
    }
    if (performance.now() >= this.#reapAfter) await this.#reap();
  }

  async #reap(): Promise<void> {
    try {
      const reaped = await reapExpiredLeases(this.#o.sql);
      for (const task of reaped) {
        this.#o.log.warn(
          { taskId: task.id, attempt: task.attempt, state: task.state, lostBy: task.lostBy },
          "took back a task whose replica's lease expired",
        );
      }
      if (reaped.length > 0) this.#o.onReaped(reaped.length);
    } catch (error) {
      this.#o.log.warn({ err: SpoolError.from(error) }, "reaping expired leases failed; will retry");
    }
  }
}
