// Scheduler: keeps this replica's worker threads busy with due tasks.
//
// - It claims due tasks in one statement whenever it is woken: by a `w:` notice (a task was
//   created or set to retry), by a thread becoming free, by a timer set for the next future
//   run_at, or by a slow fallback poll. It claims enough for the free threads, plus a local
//   queue sized to keep the threads busy through one claim round trip: nothing extra for
//   tasks that run for seconds (other replicas may take them), up to `maxPrefetch` for tasks
//   that take microseconds (one round trip per task would cap throughput).
// - It turns each run's lines into numbered log lines and its outcome into an attempt
//   finish, both through the AttemptWriter. It drops nothing: each thread bounds what it has
//   in flight (workers/log-credit.ts), so what reaches here is bounded too.
// - Start on create (TaskStarter, store/task-creator.ts): while it has idle threads, holds no
//   claimed task and its last claim left nothing due behind, it lets new tasks be stored
//   already claimed here, holds a thread for each and runs them as the insert returns: a
//   lone task on an idle service is written once before it runs, not written and claimed.
//   A task never starts this way ahead of a due task this replica knows of.
// - A freed thread takes a task from the local queue; it claims only if the last claim may
//   have left due tasks behind. Otherwise nothing is due that a notice, a timer or the poll
//   would not announce, and a claim on every task's end only competed with the outcome's
//   write for the two cores.
// - It routes cancels to the pool, and at shutdown interrupts every run and gives back what
//   it claimed.
// It knows neither gRPC nor the inside of a worker thread.
import type { Logger } from "pino";
import { failureTypes } from "../domain/task.js";
import { withTimeout } from "../deadline.js";
import { SpoolError } from "../errors.js";
import { FairBacklog } from "./fair-backlog.js";
import { compareClaims, unclaimTasks, type ClaimedTask } from "../store/claim.js";
import type { Pool } from "../store/database.js";
import { Claimer } from "./claimer.js";
import { ownedAttempts, type AttemptFinish } from "../store/record-attempts.js";
import type { Outcome, WorkerPool } from "../workers/pool.js";
import type { ThreadLogLine } from "../workers/from-worker.js";
import type { AttemptWriter } from "./attempt-writer.js";
import { Average, prefetchTarget } from "./prefetch.js";
import type { FinishOutcome, TaskEvents } from "../domain/task-events.js";
import type { NewTask } from "../domain/task.js";
import type { TaskStarter } from "../store/task-creator.js";
import type { Notices } from "../store/notify.js";

export interface SchedulerOptions {
  sql: Pool;
  /** The claim connection (database.ts: plannedOnceSettings). */
  claims: Pool;
  pool: WorkerPool;
  writer: AttemptWriter;
  /** This replica's id: the owner of the attempts it claims. */
  owner: string;
  log: Logger;
  /** The queues this replica claims from (SPOOL_QUEUES); undefined: all. */
  queues: readonly string[] | undefined;
  /** Priority aging: a task that has waited this long is aged (claimer.ts). */
  agingMs: number;
  /** Fallback poll, in case a wake-up notice was missed. */
  pollIntervalMs: number;
  /** Most tasks claimed here beyond the free threads (the local queue). */
  maxPrefetch: number;
  /** How long drain() waits for the database, all steps together, before giving up on it. */
  databaseWaitMs: number;
  /** Told of each attempt started and ended here (metrics). */
  events: TaskEvents;
  /** Where claimed tasks are announced (notify.ts). */
  notices: Notices;
}

interface RunState {
  attempt: number;
  nextSeq: number;
  /** Epoch ms when it was handed to a thread. */
  startedAt: number;
}

/**
 * Longest delay Node's timers take: a longer one is clamped to 1 ms (with a
 * TimeoutOverflowWarning), which turned one task due in a month into a claim loop. A timer
 * for a later task fires at this bound, finds nothing due, and is set again.
 */
export const maxTimerDelayMs = 2 ** 31 - 1;
/** How long a cancel for a task not (yet) running here is remembered. */
const cancelMemoryMs = 30_000;
const retryAfterErrorMs = 1000;

export class Scheduler implements TaskStarter {
  readonly #o: SchedulerOptions;
  readonly #runs = new Map<string, RunState>();
  /** Claimed here but not started yet (no thread was free when the claim returned). */
  /** Claimed here, waiting for a thread; tenants take turns (fair-backlog.ts). */
  readonly #backlog = new FairBacklog<ClaimedTask>(compareClaims);
  readonly #claimer: Claimer;
  /** The last claim left tasks of a limited queue behind: each ended attempt may make room. */
  #heldByLimit = false;
  readonly #recentCancels = new Map<string, number>();
  /** Attempts whose run ended here and whose outcome is being stored ("id/attempt"). */
  readonly #finishing = new Set<string>();
  readonly #runsEnded = new Set<() => void>();
  #claiming = false;
  /**
   * The last claim may have left due tasks behind: it took all it asked for, a queue offered
   * more or held some back, or it failed. Unknown (true) until the first claim.
   */
  #dueLeft = true;
  /** Idle threads held for tasks being stored as started (hold/release). */
  #held = 0;
  #claimFailing = false;
  #again = false;
  #stopped = true;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #poll: NodeJS.Timeout | undefined;
  /** How long a run takes, and how long a claim takes: they size the local queue. */
  readonly #runMs = new Average(0.1);
  readonly #claimMs = new Average(0.2);

  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.#claimer = new Claimer({ sql: options.claims, owner: options.owner, queues: options.queues, agingMs: options.agingMs, notices: options.notices });
  }

  /** A queue was paused, resumed or had its limits changed: claim under the new settings. */
  queuesChanged(): void {
    this.#claimer.queuesChanged();
    this.wake();
  }

  /** Tasks running on this replica. */
  get running(): number {
    return this.#runs.size;
  }

  get owner(): string {
    return this.#o.owner;
  }

  /**
   * Start on create: flags the tasks that may be stored as started here, one idle thread held
   * for each. None while a claim runs, the local queue holds tasks, or the last claim may have
   * left due tasks behind (they go first); only due tasks of kinds and queues served here.
   */
  hold(tasks: readonly NewTask[]): boolean[] {
    const now = Date.now();
    const quiet = !this.#stopped && !this.#claiming && !this.#dueLeft && this.#backlog.length === 0 && this.#timerAt > now;
    let free = quiet ? this.#idle() : 0;
    const { kinds } = this.#o.pool;
    const { queues } = this.#o;
    return tasks.map((task) => {
      const startable =
        free > 0 && kinds.has(task.kind) && (queues === undefined || queues.includes(task.queue)) && (task.runAt === undefined || task.runAt.getTime() <= now);
      if (startable) {
        free--;
        this.#held++;
      }
      return startable;
    });
  }

  /**
   * The insert of held tasks is over: runs those stored as started on the held threads, and
   * lets the other holds go. Once stopping, they join the local queue, which drain() gives back.
   */
  release(held: number, started: readonly ClaimedTask[]): void {
    this.#held -= held;
    if (this.#stopped) {
      this.#backlog.add(started);
      return;
    }
    for (const task of started) this.#dispatch(task);
    if (started.length < held) this.#dispatchBacklog();
  }

  /** A thread became free: it takes a queued task, and a claim is made if one may find more. */
  threadFreed(): void {
    if (this.#dueLeft || this.#heldByLimit || this.#backlog.length > 0) this.wake();
  }

  start(): void {
    this.#stopped = false;
    this.#poll = setInterval(() => this.wake(), this.#o.pollIntervalMs);
    this.#poll.unref();
    this.wake();
  }

  /** Starts queued tasks on free threads, and claims more if there is room. */
  wake(): void {
    if (this.#stopped) return;
    this.#dispatchBacklog();
    if (this.#claiming) {
      this.#again = true;
      return;
    }
    void this.#claimLoop();
  }

  /** Makes sure a claim happens at `at` (epoch ms) at the latest. */
  wakeAt(at: number): void {
    const delay = at - Date.now();
    if (delay <= 0) return this.wake();
    if (this.#stopped || at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.wake();
    }, Math.min(delay, maxTimerDelayMs));
    this.#timer.unref();
  }

  /** A cancel was requested for a running task: abort it if it runs here. */
  cancel(taskId: string): void {
    if (this.#o.pool.abort(taskId, "cancelled", "cancelled by request")) return;
    const [claimed] = this.#backlog.remove((c) => c.id === taskId);
    if (claimed) {
      void this.#finish(claimed, { id: claimed.id, attempt: claimed.attempt, outcome: "cancelled" }, undefined);
      return;
    }
    // The notice may arrive before the claim that took the task returns: remember it.
    const now = Date.now();
    for (const [id, expires] of this.#recentCancels) if (expires < now) this.#recentCancels.delete(id);
    this.#recentCancels.set(taskId, now + cancelMemoryMs);
  }

  /**
   * This replica lost its lease, and a reaper took back its attempts: stop every run and
   * forget every claim that is not among `owned` (what the database still says it owns).
   * Their outcomes would be fenced off anyway; this stops the work itself.
   */
  dropLost(owned: readonly { id: string; attempt: number }[]): void {
    const keep = new Set(owned.map((o) => `${o.id}/${o.attempt}`));
    for (const [id, run] of this.#runs) {
      if (!keep.has(`${id}/${run.attempt}`)) {
        this.#o.log.warn({ taskId: id, attempt: run.attempt }, "attempt taken back after the lease was lost: stopping it");
        this.#o.pool.abort(id, "lost", "this replica lost its lease and the attempt was taken back");
      }
    }
    this.#backlog.remove((c) => !keep.has(`${c.id}/${c.attempt}`));
  }

  /**
   * The database says this replica runs these attempts (for over a lease period): give back
   * those it does not know, which no thread here will ever run or finish. That happens when a
   * claim committed but its reply was lost (the primary failed in between), or an outcome
   * stored on a primary was lost in a failover. They go back to PENDING, their attempt given
   * back, as a claim that never started does.
   */
  reconcile(owned: readonly { id: string; attempt: number }[]): void {
    if (this.#stopped) return;
    const known = (id: string, attempt: number) =>
      this.#runs.get(id)?.attempt === attempt ||
      this.#finishing.has(`${id}/${attempt}`) ||
      this.#backlog.find((c) => c.id === id && c.attempt === attempt) !== undefined;
    const strays = owned.filter((o) => !known(o.id, o.attempt));
    if (strays.length === 0) return;
    this.#o.log.warn({ tasks: strays }, "tasks recorded as running here that this replica does not run: giving them back");
    unclaimTasks(this.#o.sql, this.#o.owner, strays).catch((error: unknown) =>
      this.#o.log.warn({ err: SpoolError.from(error) }, "could not give back stray tasks; will try at the next renewal"),
    );
  }

  /**
   * Stops claiming, interrupts every run (AbortSignal, then thread termination after the
   * pool's grace period), gives back the backlog and waits until every outcome is stored:
   * interrupted tasks go back to PENDING with their attempt given back.
   *
   * Bounded while the database is unreachable: the steps after the runs ended wait at most
   * databaseWaitMs in all, then the writer stops retrying. What it could not store is lost here, but not for good: those
   * tasks stay RUNNING under this replica's lease, which expires, and a reaper takes them back.
   */
  async drain(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#poll);
    // A claim or an insert of started tasks in flight adds to the local queue: wait for it.
    const waitUntil = performance.now() + this.#o.databaseWaitMs;
    while ((this.#claiming || this.#held > 0) && performance.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 5));
    const backlog = this.#backlog.drain();
    this.#o.pool.abortAll("shutdown", "the service is shutting down");
    if (this.#runs.size > 0) await new Promise<void>((resolve) => this.#runsEnded.add(resolve));
    const until = performance.now() + this.#o.databaseWaitMs;
    const wait = <T>(promise: Promise<T>, what: string) => withTimeout(promise, Math.max(0, until - performance.now()), what);
    try {
      await wait(this.#o.writer.drained(), "storing the outcomes of the last attempts");
      await wait(unclaimTasks(this.#o.sql, this.#o.owner, backlog.map((c) => ({ id: c.id, attempt: c.attempt }))), "giving back claimed tasks");
      // Safety net: anything still recorded as running here is interrupted now.
      for (const attempt of await wait(ownedAttempts(this.#o.sql, this.#o.owner), "reading the attempts still owned")) {
        this.#o.log.warn({ taskId: attempt.id }, "attempt still running at shutdown: interrupting it");
        await wait(this.#o.writer.finish({ ...attempt, outcome: "interrupted", error: shutdownError }), "interrupting an attempt");
      }
    } catch (error) {
      this.#o.log.error(
        { err: SpoolError.from(error) },
        "could not hand this replica's tasks back at shutdown: they are taken back once its lease expires",
      );
    } finally {
      this.#o.writer.close();
    }
  }

  async #claimLoop(): Promise<void> {
    this.#claiming = true;
    try {
      do {
        this.#again = false;
        this.#dispatchBacklog();
        // Refill the local queue once it is half empty, to its full target: claims stay large
        // instead of one small claim per freed thread.
        const target = this.#prefetchTarget();
        if (this.#idle() === 0 && this.#backlog.length > target / 2) break;
        const wanted = this.#idle() + target - this.#backlog.length;
        if (wanted <= 0) break;
        const started = performance.now();
        const claim = await this.#claimer.claim(wanted, this.#kinds());
        this.#heldByLimit = claim.held;
        this.#dueLeft = claim.tasks.length === wanted || claim.more || claim.held || claim.limitedDue;
        this.#claimMs.add(performance.now() - started);
        this.#backlog.add(claim.tasks); // a later claim may hold more urgent tasks: add sorts
        this.#dispatchBacklog();
        if (claim.tasks.length === wanted || claim.more) {
          this.#again = true; // there may be more due
        } else if (claim.nextDueAt !== undefined) {
          this.wakeAt(claim.nextDueAt);
        }
      } while (this.#again && !this.#stopped);
      this.#claimFailing = false;
    } catch (error) {
      // Once per outage, not once per retry.
      this.#dueLeft = true;
      if (!this.#claimFailing) this.#o.log.warn({ err: SpoolError.from(error) }, "claiming tasks failed; retrying every second");
      this.#claimFailing = true;
      this.wakeAt(Date.now() + retryAfterErrorMs);
    } finally {
      this.#claiming = false;
    }
  }

  /** The kinds this replica claims: those its threads have handlers for. */
  #kinds(): string[] {
    return [...this.#o.pool.kinds];
  }

  /**
   * Tasks to hold beyond the free threads: enough to keep every thread busy for two claim
   * round trips (the queue is refilled when half empty). Until a run has been timed, none.
   */
  #prefetchTarget(): number {
    const threads = this.#o.pool.idle + this.#o.pool.running;
    return prefetchTarget({ runMs: this.#runMs.value, claimMs: this.#claimMs.value, threads, max: this.#o.maxPrefetch });
  }

  /** Idle threads not held for started tasks. */
  #idle(): number {
    return this.#o.pool.idle - this.#held;
  }

  #dispatchBacklog(): void {
    while (this.#backlog.length > 0 && this.#idle() > 0 && !this.#stopped) {
      this.#dispatch(this.#backlog.take() as ClaimedTask);
    }
  }

  #dispatch(claimed: ClaimedTask): void {
    const run: RunState = { attempt: claimed.attempt, nextSeq: claimed.lastLogSeq + 1, startedAt: Date.now() };
    const started = performance.now();
    this.#o.events.started(claimed, run.startedAt - claimed.runAt);
    this.#runs.set(claimed.id, run);
    this.#o.pool.run(
      {
        taskId: claimed.id,
        attempt: claimed.attempt,
        kind: claimed.kind,
        input: claimed.input,
        timeoutMs: claimed.timeoutMs,
        trace: { traceparent: claimed.traceparent, queue: claimed.queue, tenant: claimed.tenant },
      },
      {
        logs: (lines, stored) => this.#logs(claimed.id, run, lines, stored),
        progress: (progress) => this.#o.writer.progress({ taskId: claimed.id, attempt: claimed.attempt, ...progress }),
        done: (outcome) => {
          const runMs = performance.now() - started;
          this.#runMs.add(runMs);
          this.#runs.delete(claimed.id);
          void this.#finish(claimed, { ...toFinish(claimed, outcome), startedAt: run.startedAt }, runMs);
          if (this.#runs.size === 0) {
            for (const resolve of this.#runsEnded) resolve();
            this.#runsEnded.clear();
          }
        },
      },
    );
    if (this.#recentCancels.delete(claimed.id)) this.#o.pool.abort(claimed.id, "cancelled", "cancelled by request");
  }

  /** Numbers the run's lines (one sequence per task, across attempts) and hands them to the writer. */
  #logs(taskId: string, run: RunState, lines: ThreadLogLine[], stored: () => void): void {
    const numbered = lines.map((line) => ({
      taskId,
      attempt: run.attempt,
      seq: run.nextSeq++,
      level: line.level,
      message: line.message,
      time: line.time,
      traceId: line.traceId,
      spanId: line.spanId,
    }));
    this.#o.writer.lines(numbered, stored);
  }

  async #finish(claimed: ClaimedTask, finish: AttemptFinish, runMs: number | undefined): Promise<void> {
    const key = `${claimed.id}/${finish.attempt}`;
    this.#finishing.add(key);
    const finished = await this.#o.writer.finish(finish).finally(() => this.#finishing.delete(key));
    // Stored: the task no longer counts against its queue's limit.
    if (this.#heldByLimit) this.wake();
    if (!finished) {
      this.#o.log.warn({ taskId: claimed.id, attempt: finish.attempt }, "outcome of an attempt that lost its claim was ignored");
      return;
    }
    const outcome: FinishOutcome =
      finish.outcome === "interrupted" ? "interrupted" : finished.state === "pending" ? "retry" : (finished.state as FinishOutcome);
    this.#o.events.finished(claimed, outcome, runMs);
    if (outcome === "retry") this.#o.events.retried(claimed, "backoff");
  }
}

const shutdownError = { type: failureTypes.shutdown, message: "the service shut down before the task finished" };

function toFinish(claimed: ClaimedTask, outcome: Outcome): AttemptFinish {
  const base = { id: claimed.id, attempt: claimed.attempt };
  if (outcome.status === "succeeded") return { ...base, outcome: "succeeded", resultJson: outcome.resultJson };
  if (outcome.aborted === "cancelled") return { ...base, outcome: "cancelled", error: outcome.error };
  if (outcome.aborted === "shutdown") {
    return { ...base, outcome: "interrupted", error: { ...shutdownError, stack: outcome.error.stack } };
  }
  return { ...base, outcome: outcome.final === true ? "failed_final" : "failed", error: outcome.error };
}
