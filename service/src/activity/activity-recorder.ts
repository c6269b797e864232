// ActivityRecorder: counts the attempts that end on this replica, per (tenant, queue, minute)
// and outcome, and adds the counts to spool.task_activity every `flushMs` (store/activity.ts),
// for GetActivity.
//
// - Counting is a Map update on the scheduler's path (7,000 attempts/s cost 7,000 of them); the
//   database sees one upsert per flush, of a row per key counted since the last one.
// - A flush that fails (Postgres unreachable) keeps its counts: they go back with those
//   counted meanwhile and are tried again at the next interval. While it fails keys pile up
//   (one per queue and minute); past `maxKeys` the oldest are dropped, with one warning per
//   outage. Counts that were stored are never sent again: a flush is one statement.
// - At most one flush runs at a time; close() stops the interval and flushes what is left
//   (the caller bounds how long it waits: spool.ts).
// - A minute is this replica's clock, when the outcome was stored; GetActivity's window is
//   the database's: a replica whose clock is off by seconds puts an attempt near a minute's
//   edge in the next or the previous bucket.
// - Once an hour (and at the first flush) a flush also deletes rows past 7 days, at most
//   pruneLimit per flush: what is left goes at the next. The last flush, at close, does not.
import type { Logger } from "pino";
import type { ActivityOutcome, ActivityRow } from "../domain/activity.js";
import type { FinishOutcome, TaskEvents, TaskLabels } from "../domain/task-events.js";
import { SpoolError } from "../errors.js";

/** Where the counts go: store/activity.ts over the pool; tests give their own. */
export interface ActivityStore {
  add(rows: readonly ActivityRow[]): Promise<void>;
  /** Deletes up to `limit` rows past their keep time; returns how many. */
  prune(limit: number): Promise<number>;
}

export interface ActivityRecorderOptions {
  store: ActivityStore;
  /** How often the counts are added to the database (SPOOL_ACTIVITY_FLUSH_MS). */
  flushMs: number;
  log: Logger;
  /** Most keys held while flushes fail; default 10,000. */
  maxKeys?: number;
  /** How often old rows are deleted; default 1 hour. */
  pruneEveryMs?: number;
  /** Most rows one flush deletes; default 10,000. */
  pruneLimit?: number;
  /** Epoch ms; tests move it. */
  now?: () => number;
}

/**
 * How each ending is counted. "interrupted" (given back at shutdown: PENDING again, its
 * attempt given back) is not an ending: the attempt runs again, elsewhere or later, and that
 * run is counted. "dropped" (the last attempt lost with its replica) ends the task without
 * success, so it is a failure; the reaper (store/leases.ts) reports lost attempts only as a
 * count, though, so none reaches here today.
 */
const counted: Record<FinishOutcome, ActivityOutcome | undefined> = {
  succeeded: "succeeded",
  failed: "failed",
  dropped: "failed",
  retry: "retried",
  cancelled: "cancelled",
  interrupted: undefined,
};

const minuteMs = 60_000;

export class ActivityRecorder implements TaskEvents {
  readonly #o: Required<ActivityRecorderOptions>;
  /** Counts not yet stored, by key, in the order keys were first seen (oldest first). */
  #pending = new Map<string, ActivityRow>();
  #flushing: Promise<boolean> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastPrune = Number.NEGATIVE_INFINITY;
  #failing = false;
  /** Keys dropped during this outage (the warning goes out with the first). */
  #dropped = 0;

  constructor(options: ActivityRecorderOptions) {
    this.#o = { maxKeys: 10_000, pruneEveryMs: 3600_000, pruneLimit: 10_000, now: Date.now, ...options };
  }

  /** Keys counted and not yet stored. */
  get pendingKeys(): number {
    return this.#pending.size;
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      if (!this.#flushing) void this.flush();
    }, this.#o.flushMs);
    this.#timer.unref();
  }

  /** Stops the interval and stores what is left (or says it could not: never rejects). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    if (!(await this.flush(false))) {
      this.#o.log.warn({ keys: this.#pending.size }, "the last task activity could not be stored: GetActivity will undercount it");
    }
  }

  finished(task: TaskLabels, outcome: FinishOutcome): void {
    const column = counted[outcome];
    if (column === undefined) return;
    const minute = Math.floor(this.#o.now() / minuteMs) * minuteMs;
    const key = `${task.tenant}\u0000${task.queue}\u0000${minute}`;
    let row = this.#pending.get(key);
    if (!row) {
      row = { tenant: task.tenant, queue: task.queue, minute: new Date(minute), succeeded: 0, failed: 0, retried: 0, cancelled: 0 };
      this.#pending.set(key, row);
      this.#trim();
    }
    row[column]++;
  }

  created(): void {}
  started(): void {}
  retried(): void {}
  leasesExpired(): void {}

  /**
   * Adds what was counted to the database (and deletes old rows when due). Resolves whether
   * it was stored; it never rejects: failed counts are kept for the next flush.
   */
  async flush(prune = true): Promise<boolean> {
    while (this.#flushing) await this.#flushing;
    this.#flushing = this.#flush(prune).finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  async #flush(prune: boolean): Promise<boolean> {
    const batch = this.#pending;
    this.#pending = new Map();
    try {
      if (batch.size > 0) await this.#o.store.add([...batch.values()]);
    } catch (error) {
      if (!this.#failing) {
        this.#o.log.warn({ err: SpoolError.from(error), keys: batch.size }, "storing task activity failed; keeping the counts and trying again");
      }
      this.#failing = true;
      this.#restore(batch);
      return false;
    }
    if (this.#failing && this.#dropped > 0) {
      this.#o.log.warn({ keys: this.#dropped }, "task activity stored again; counts of the oldest minutes were dropped meanwhile");
    }
    this.#failing = false;
    this.#dropped = 0;
    if (prune) await this.#prune();
    return true;
  }

  /** Puts a failed batch back, before what was counted meanwhile (which is newer). */
  #restore(batch: Map<string, ActivityRow>): void {
    for (const [key, row] of this.#pending) {
      const older = batch.get(key);
      if (!older) {
        batch.set(key, row);
        continue;
      }
      older.succeeded += row.succeeded;
      older.failed += row.failed;
      older.retried += row.retried;
      older.cancelled += row.cancelled;
    }
    this.#pending = batch;
    this.#trim();
  }

  /** Drops the oldest keys beyond maxKeys. */
  #trim(): void {
    while (this.#pending.size > this.#o.maxKeys) {
      const oldest = this.#pending.keys().next().value as string;
      this.#pending.delete(oldest);
      if (this.#dropped++ === 0) {
        this.#o.log.warn(
          { maxKeys: this.#o.maxKeys },
          "task activity could not be stored for a while: dropping the counts of the oldest minutes (GetActivity will undercount them)",
        );
      }
    }
  }

  async #prune(): Promise<void> {
    const now = this.#o.now();
    if (now - this.#lastPrune < this.#o.pruneEveryMs) return;
    try {
      const deleted = await this.#o.store.prune(this.#o.pruneLimit);
      // A full batch: more are left, so go on at the next flush.
      if (deleted < this.#o.pruneLimit) this.#lastPrune = now;
    } catch (error) {
      this.#lastPrune = now;
      this.#o.log.warn({ err: SpoolError.from(error) }, "deleting old task activity failed; will try again in an hour");
    }
  }
}
