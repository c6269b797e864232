// RetentionSweeper: deletes ended tasks (and their logs) once they pass their queue's
// retention (store/delete-expired.ts says which, and how one batch is bounded).
//
// - Every replica runs one; they share the work without a leader: a batch locks what it
//   deletes FOR UPDATE SKIP LOCKED, so two sweepers on the same rows never wait for each
//   other or delete a row twice.
// - A pass walks each ended state's part of tasks_ended_state_idx, in id order, from the
//   lowest id up to the retention horizon (the first id created at now - the shortest
//   retention), one batch at a time: at most `batchSize` tasks read, and `lineBudget` log
//   lines deleted, per statement.
// - It never hurts claim latency: one statement at a time, on one connection of the shared
//   pool, each touching only ended rows (a claim touches pending ones), and between two
//   batches a pause (pauseAfter): as long as the last batch took while the replica runs no
//   task, so it holds that connection at most half the time, and nine times as long while
//   the replica runs tasks (`busy`), so that it then takes a tenth. Deleting a row costs about
//   what inserting it did: at half the time, catching up on 10M expired rows took 31% off the
//   throughput of the tasks running meanwhile (bench:scale). While a backlog lasts it goes on
//   after that pause (`busyPauseMs` at least); once a pass is done it sleeps about `idleMs`
//   (+-25%, so replicas drift apart).
// - A failed batch (the database unreachable, say) ends the pass with a warning; the next
//   pass starts over after the idle sleep. Nothing is lost: what was not deleted is found
//   again.
// - stop() wakes it from any sleep and waits for the batch in flight, if any.
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelayMs } from "@spool/proto";
import type { Logger } from "pino";
import { SpoolError } from "../errors.js";
import type { Sql } from "../store/database.js";
import { deleteExpired, endedStates, lowestTaskId, retentionHorizon } from "../store/delete-expired.js";

export interface RetentionOptions {
  sql: Sql;
  /** Retention of a queue that sets none, in ms (SPOOL_RETENTION_MS); 0: keep its tasks. */
  defaultRetentionMs: number;
  log: Logger;
  /** Tasks read per statement; default 1000. */
  batchSize?: number;
  /** Log lines deleted per statement at most; default 100,000. */
  lineBudget?: number;
  /** Sleep between passes; default 1 min. */
  idleMs?: number;
  /** Shortest pause between two batches of a pass; default 100 ms. */
  busyPauseMs?: number;
  /** Before the first pass; default: a random part of idleMs, so replicas started together do not sweep together. */
  firstDelayMs?: number;
  /** Whether the replica is running tasks now: the sweeper then yields more (pauseAfter). Default: never. */
  busy?: () => boolean;
}

/**
 * The pause after a batch that took `batchMs`: as long again while idle (half the time
 * deleting), nine times as long while the replica runs tasks (a tenth), `minMs` at least.
 */
export function pauseAfter(batchMs: number, busy: boolean, minMs: number): number {
  return Math.max(minMs, batchMs * (busy ? 9 : 1));
}

export interface SweepTotals {
  tasks: number;
  lines: number;
  batches: number;
}

export class RetentionSweeper {
  readonly #o: Required<RetentionOptions>;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;

  constructor(options: RetentionOptions) {
    const idleMs = options.idleMs ?? 60_000;
    this.#o = {
      batchSize: 1000,
      lineBudget: 100_000,
      busyPauseMs: 100,
      firstDelayMs: Math.random() * idleMs,
      busy: () => false,
      ...options,
      idleMs,
    };
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** Stops sweeping; resolves once the batch in flight, if any, is done. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  /**
   * One pass: deletes every task past its retention, batch by batch, unless stopped. Throws
   * what a batch threw.
   */
  async sweep(): Promise<SweepTotals> {
    const totals: SweepTotals = { tasks: 0, lines: 0, batches: 0 };
    const defaultRetentionMs = this.#o.defaultRetentionMs === 0 ? null : this.#o.defaultRetentionMs;
    const before = await retentionHorizon(this.#o.sql, defaultRetentionMs);
    if (before === undefined) return totals;
    for (const state of endedStates) {
      let after = lowestTaskId;
      for (;;) {
        if (this.#stop.signal.aborted) return totals;
        const started = performance.now();
        const batch = await deleteExpired(this.#o.sql, {
          state,
          after,
          before,
          batch: this.#o.batchSize,
          defaultRetentionMs,
          lineBudget: this.#o.lineBudget,
        });
        totals.tasks += batch.tasks;
        totals.lines += batch.lines;
        totals.batches++;
        if (!batch.more) break;
        after = batch.next;
        await this.#pause(pauseAfter(performance.now() - started, this.#o.busy(), this.#o.busyPauseMs));
      }
    }
    return totals;
  }

  async #run(): Promise<void> {
    await this.#pause(this.#o.firstDelayMs);
    while (!this.#stop.signal.aborted) {
      try {
        const totals = await this.sweep();
        if (totals.tasks > 0) this.#o.log.info(totals, "deleted tasks past their retention, with their logs");
      } catch (error) {
        this.#o.log.warn({ err: SpoolError.from(error) }, "deleting tasks past their retention failed; will try again");
      }
      await this.#pause(backoffDelayMs({ baseMs: this.#o.idleMs, factor: 1, maxMs: this.#o.idleMs, jitter: 0.25 }, 0));
    }
  }

  /** Sleeps `ms`, or until stopped. */
  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stop.signal, ref: false }).catch(() => undefined);
  }
}
