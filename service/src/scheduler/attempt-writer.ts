// AttemptWriter: everything running attempts write (log lines and outcomes) goes through one
// group commit. Each flush is one recordAttempts statement: lines and outcomes commit
// together, so a task is never seen finished before all its lines are stored, and StreamLogs
// can end after one last read. Once it has committed, the flush's notices go out.
//
// While the database is unreachable the flush is retried with backoff and nothing is lost;
// an item the database rejects for itself (not an outage) is isolated and dealt with alone.
import { backoffDelayMs, type Backoff } from "@spool/proto";
import type { Logger } from "pino";
import { cut, errorForLog, isConnectionError } from "../errors.js";
import type { Sql } from "../store/database.js";
import type { Notices } from "../store/notify.js";
import { GroupCommit } from "../store/group-commit.js";
import {
  recordAttempts,
  type AttemptFinish,
  type FinishedTask,
  type NewLogLine,
  type NewProgress,
} from "../store/record-attempts.js";

type Item =
  | { type: "lines"; lines: NewLogLine[]; bytes: number; stored: () => void }
  | { type: "progress"; progress: NewProgress }
  | { type: "finish"; finish: AttemptFinish; resolve: (done: FinishedTask | undefined) => void };

/**
 * Most weight in one flush: a line weighs its text plus a fixed cost, so a flush holds up to
 * ~5,000 short lines or ~4 MiB of long ones (a count alone let 64 KiB lines build 300 MB
 * statements). An outcome or a progress report weighs as much as a short line.
 */
const maxBatchWeight = 4 * 1024 * 1024;
const lineWeight = 800;
const weigh = (item: Item) => (item.type === "lines" ? item.bytes + lineWeight * item.lines.length : lineWeight);
/**
 * Waits between tries through an outage: 100 ms doubling to 5 s, +-25%, so that replicas cut
 * off together do not all come back in the same instant.
 */
const retryBackoff: Backoff = { baseMs: 100, factor: 2, maxMs: 5000, jitter: 0.25 };

export class AttemptWriter {
  readonly #sql: Sql;
  readonly #owner: string;
  readonly #log: Logger;
  readonly #commit: GroupCommit<Item>;
  readonly #notices: Notices;
  #closed = false;

  /** `notices`: where each flush announces what it stored, once committed. */
  constructor(sql: Sql, owner: string, log: Logger, notices: Notices) {
    this.#sql = sql;
    this.#owner = owner;
    this.#log = log;
    this.#notices = notices;
    this.#commit = new GroupCommit((batch) => this.#flush(batch), maxBatchWeight, weigh);
  }

  /**
   * Lines of one run, stored in order with everything pushed before them; `stored` is called
   * once they are written, or given up (refused by the database, or the writer closed).
   */
  lines(lines: NewLogLine[], stored: () => void): void {
    const bytes = lines.reduce((sum, line) => sum + line.message.length, 0);
    this.#commit.push({ type: "lines", lines, bytes, stored });
  }

  /** A progress report; of several for one task in a flush, the latest is stored. */
  progress(progress: NewProgress): void {
    this.#commit.push({ type: "progress", progress });
  }

  /**
   * Records an attempt's outcome after every line pushed before it. Resolves with the task's
   * new state, or undefined when the attempt had lost its claim (fenced: nothing changed).
   */
  finish(finish: AttemptFinish): Promise<FinishedTask | undefined> {
    return new Promise((resolve) => this.#commit.push({ type: "finish", finish, resolve }));
  }

  drained(): Promise<void> {
    return this.#commit.drained();
  }

  /** Stops retrying through an outage: pending writes are given up (their leases will lapse). */
  close(): void {
    this.#closed = true;
  }

  async #flush(batch: Item[]): Promise<void> {
    for (let retry = 0; ; retry++) {
      if (this.#closed) return this.#settle(batch, []); // given up: the leases will lapse
      try {
        const finished = await this.#write(batch);
        this.#announce(batch, finished);
        this.#settle(batch, finished);
        return;
      } catch (error) {
        if (!isConnectionError(error)) return this.#isolate(batch, error);
        if (this.#closed) return this.#settle(batch, []);
        const delay = backoffDelayMs(retryBackoff, retry);
        this.#log.warn({ err: error, retryInMs: Math.round(delay), items: batch.length }, "database unavailable: will retry writing attempts");
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async #write(batch: Item[]): Promise<FinishedTask[]> {
    const lines: NewLogLine[] = [];
    const finishes: AttemptFinish[] = [];
    const progress = new Map<string, NewProgress>();
    for (const item of batch) {
      if (item.type === "lines") lines.push(...item.lines);
      else if (item.type === "progress") progress.set(item.progress.taskId, item.progress);
      else finishes.push(item.finish);
    }
    // One statement updates a row once: the last report of a task that finishes in this
    // flush goes with its outcome.
    const withProgress = finishes.map((finish) => {
      const last = progress.get(finish.id);
      progress.delete(finish.id);
      return last?.attempt === finish.attempt ? { ...finish, progress: last } : finish;
    });
    return recordAttempts(this.#sql, this.#owner, lines, withProgress, [...progress.values()]);
  }

  /**
   * Tells every replica what the flush stored: the tasks with new lines (their followers read
   * them), those whose state or progress changed (watchers), and the earliest retry (schedulers).
   * A line or report the fencing refused is announced too: a follower reads and finds nothing.
   */
  #announce(batch: Item[], finished: FinishedTask[]): void {
    const lines = new Set<string>();
    const changed = new Set<string>(finished.map((f) => f.id));
    for (const item of batch) {
      if (item.type === "lines") for (const line of item.lines) lines.add(line.taskId);
      else if (item.type === "progress") changed.add(item.progress.taskId);
    }
    if (lines.size > 0) this.#notices.logs(lines);
    if (changed.size > 0) this.#notices.tasks(changed);
    let due = Number.POSITIVE_INFINITY;
    for (const f of finished) if (f.state === "pending") due = Math.min(due, f.runAt);
    if (Number.isFinite(due)) this.#notices.due(due);
  }

  #settle(batch: Item[], finished: FinishedTask[]): void {
    const byId = new Map(finished.map((f) => [f.id, f]));
    for (const item of batch) {
      if (item.type === "finish") item.resolve(byId.get(item.finish.id));
      else if (item.type === "lines") item.stored();
    }
  }

  /** The database refused the batch: write its items one by one to find the culprit. */
  async #isolate(batch: Item[], error: unknown): Promise<void> {
    if (batch.length > 1) {
      for (const item of batch) await this.#flush([item]);
      return;
    }
    const [item] = batch as [Item];
    if (item.type === "lines") {
      const [first] = item.lines;
      this.#log.error({ err: errorForLog(error), taskId: first?.taskId, seq: first?.seq, lines: item.lines.length }, "log lines rejected by the database: dropped");
      item.stored();
      return;
    }
    if (item.type === "progress") {
      this.#log.error({ err: errorForLog(error), taskId: item.progress.taskId }, "progress report rejected by the database: dropped");
      return;
    }
    const { finish } = item;
    // The thread makes every outcome storable (workers/run-output.ts); should the database
    // still refuse one, the attempt must not stay RUNNING with its lease live: it fails with a
    // plain error that can always be stored, or, if even that is refused, is left to the reaper.
    const fallback: AttemptFinish = {
      id: finish.id,
      attempt: finish.attempt,
      outcome: finish.outcome === "succeeded" ? "failed" : finish.outcome,
      error: { type: finish.outcome === "succeeded" ? "ResultNotStored" : "OutcomeNotStored", message: `the database refused the attempt's outcome: ${cut((error as Error).message, 500)}` },
      startedAt: finish.startedAt,
    };
    this.#log.error({ err: errorForLog(error), taskId: finish.id }, "attempt outcome rejected by the database: storing a plain failure instead");
    if (item.finish.error?.type === "ResultNotStored" || item.finish.error?.type === "OutcomeNotStored") {
      item.resolve(undefined);
      return;
    }
    await this.#flush([{ ...item, finish: fallback }]);
  }
}
