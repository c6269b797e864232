// LeaseKeeper: keeps this replica's lease alive and runs the reaper, every `renewMs`.
//
// - Renewal is one UPDATE for the whole replica, whatever number of tasks it runs. Its
//   success or failure is also the replica's view of the database: `onHealth` reports it
//   (the gRPC health service says NOT_SERVING while the database is unreachable).
// - If a renewal finds the lease gone (a reaper took it while this replica was paused or
//   cut off), `onLost` is told what the replica still owns, so it stops the rest.
// - The reaper takes back the tasks of replicas whose leases expired (store/leases.ts). After
//   this replica could not reach the database, it waits one lease period of renewing before
//   reaping again: the other replicas were cut off too and need a renewal of their own before
//   their leases are judged, or one outage would re-run every task in flight.
import type { Logger } from "pino";
import { SpoolError } from "../errors.js";
import type { Sql } from "../store/database.js";
import { reapExpiredLeases, releaseLease, renewLease } from "../store/leases.js";
import { ownedAttempts } from "../store/record-attempts.js";

export interface LeaseKeeperOptions {
  sql: Sql;
  replica: { id: string; name: string };
  renewMs: number;
  ttlMs: number;
  log: Logger;
  onHealth: (reachable: boolean) => void;
  onLost: (owned: { id: string; attempt: number }[]) => void;
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
    await renewLease(this.#o.sql, this.#o.replica, this.#o.ttlMs);
    this.#reachable = true;
    await this.#reap();
    this.#schedule();
  }

  /** Stops renewing and gives the lease up, so that anything still owned is reaped at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#tick;
    await releaseLease(this.#o.sql, this.#o.replica.id);
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
      const recreated = await withTimeout(renewLease(this.#o.sql, this.#o.replica, this.#o.ttlMs), this.#o.ttlMs / 2);
      if (!this.#reachable) {
        this.#o.log.info("database reachable again");
        this.#reachable = true;
        this.#reapAfter = performance.now() + this.#o.ttlMs;
      }
      this.#o.onHealth(true);
      if (recreated) {
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
    } catch (error) {
      this.#o.log.warn({ err: SpoolError.from(error) }, "reaping expired leases failed; will retry");
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the database within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
