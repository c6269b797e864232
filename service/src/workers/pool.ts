// WorkerPool: a fixed number of worker threads, each running one task at a time.
//
// - A run that exceeds its timeout, or is aborted (cancel, shutdown), first gets its
//   AbortSignal fired; if it has not finished after the grace period, its thread is
//   terminated (this stops even a CPU loop) and replaced.
// - A thread that dies on its own (process.exit, out of memory) ends its run as failed
//   (WorkerCrashed) and is replaced; the pool itself never goes down with it. A thread that
//   reports an uncaught error (thread.ts) is replaced as soon as it is free.
// - Log lines come with the credit the thread took for them (log-credit.ts); the sink gives
//   it back once they are stored, which is what paces a thread that logs too fast.
// - It knows nothing of Postgres or gRPC: it takes jobs, and reports lines and an outcome.
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { ThreadView } from "../domain/replica-view.js";
import { failureTypes, type TaskError } from "../domain/task.js";
import type { FromWorker, SerializedError, ThreadLogLine, ThreadProgress } from "./from-worker.js";
import { createLogCredit, returnCredit } from "./log-credit.js";
import type { AbortReason, RunTrace, ThreadData, ThreadLogLimits, ToWorker } from "./to-worker.js";

export interface Job {
  taskId: string;
  attempt: number;
  kind: string;
  input: unknown;
  timeoutMs: number;
  /** What the run's span records (tracing on), and the trace it continues. */
  trace: RunTrace;
}

const abortTypes: Record<AbortReason, string> = {
  cancelled: failureTypes.cancelled,
  timeout: failureTypes.timeout,
  shutdown: failureTypes.shutdown,
  lost: failureTypes.leaseExpired,
};

export type Outcome =
  | { status: "succeeded"; resultJson: string }
  | {
      status: "failed";
      error: TaskError;
      /** Set when the run was aborted by the pool: why. */
      aborted?: AbortReason | undefined;
      /** The handler threw a NonRetryableError: no further attempt, whatever attempts remain. */
      final?: boolean | undefined;
    };

/** Where a run reports; both are called on the pool's (main) thread. */
export interface RunSink {
  /** `stored` must be called once the lines are stored or given up: it paces the thread. */
  logs(lines: ThreadLogLine[], stored: () => void): void;
  progress(progress: ThreadProgress): void;
  done(outcome: Outcome): void;
}

export interface PoolOptions {
  size: number;
  /** Handler modules (paths, file: URLs or directories), loaded by every thread. */
  modules: string[];
  /** How long an aborted run may take to stop before its thread is terminated. */
  graceMs: number;
  /** V8 heap limit of each thread, in MB. */
  maxHeapMb: number;
  /** How each thread bounds the log lines of its runs. */
  logLimits: ThreadLogLimits;
  /** Whether threads trace their runs (telemetry/tracing.ts), and as which replica. */
  tracing: { enabled: boolean; version: string; instanceId: string };
  log: Logger;
  /** Called whenever a thread becomes free to take a job. */
  onIdle: () => void;
}

interface ActiveRun {
  runId: number;
  job: Job;
  /** Epoch ms. */
  startedAt: number;
  sink: RunSink;
  timeout: NodeJS.Timeout;
  abort?: { reason: AbortReason; message: string; kill: NodeJS.Timeout };
}

/** A place in the pool: its figures outlive the threads that fill it (ListWorkers). */
interface Seat {
  index: number;
  completed: number;
  failed: number;
  restartedAt?: number;
  restartReason?: string;
}

interface Slot {
  seat: Seat;
  worker: Worker;
  state: "starting" | "idle" | "busy" | "dead";
  run?: ActiveRun | undefined;
  /** Bytes of log text posted by the thread and not yet stored (shared with it). */
  logCredit: Int32Array;
  /** Replace the thread once it is free: it reported an uncaught error. */
  recycle: boolean;
}

/** Threads of every pool in this process that have not exited yet (tests check for leaks). */
let liveThreads = 0;
export const liveWorkerThreads = (): number => liveThreads;

// From the TypeScript sources (tests), threads start on a small .mjs that registers tsx.
const threadUrl = new URL(import.meta.url.endsWith(".ts") ? "./thread-from-source.mjs" : "./thread.js", import.meta.url);
const maxRespawnDelayMs = 30_000;
/** How long a closing pool waits for each thread to export its spans. */
const flushWaitMs = 2000;

export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #slots = new Set<Slot>();
  readonly #seats: Seat[] = [];
  readonly #byTask = new Map<string, Slot>();
  #kinds: ReadonlySet<string> = new Set();
  #nextRunId = 1;
  #closed = false;
  #respawnDelayMs = 0;

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /** Kinds the handler modules define. */
  get kinds(): ReadonlySet<string> {
    return this.#kinds;
  }

  /** Threads free to take a job now. */
  get idle(): number {
    let count = 0;
    for (const slot of this.#slots) if (slot.state === "idle") count++;
    return count;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#byTask.size;
  }

  /** Each place in the pool: its thread's state, the run it is busy with, its figures. */
  threads(): ThreadView[] {
    const bySeat = new Map([...this.#slots].map((slot) => [slot.seat, slot]));
    return this.#seats.map((seat) => {
      const slot = bySeat.get(seat);
      const run = slot?.run;
      const { index, completed, failed, restartedAt, restartReason } = seat;
      return {
        index,
        state: slot === undefined || slot.state === "starting" || slot.state === "dead" ? "starting" : slot.state,
        ...(run && { task: { id: run.job.taskId, kind: run.job.kind, attempt: run.job.attempt, startedAt: run.startedAt } }),
        completed,
        failed,
        ...(restartedAt !== undefined && { restartedAt, restartReason }),
      };
    });
  }

  /** Starts every thread; rejects if the handler modules fail to load. */
  async start(): Promise<void> {
    for (let index = 0; index < this.#options.size; index++) this.#seats.push({ index, completed: 0, failed: 0 });
    const starts = this.#seats.map((seat) => this.#spawn(seat));
    const results = await Promise.allSettled(starts);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await this.close();
      throw failed.reason;
    }
  }

  /** Runs the job on an idle thread; the caller checks `idle` first. */
  run(job: Job, sink: RunSink): void {
    const slot = [...this.#slots].find((s) => s.state === "idle");
    if (!slot) throw new Error("no idle worker thread");
    const runId = this.#nextRunId++;
    const timeout = setTimeout(
      () => this.#abortSlot(slot, "timeout", `timed out after ${job.timeoutMs} ms`),
      job.timeoutMs,
    );
    slot.state = "busy";
    slot.run = { runId, job, sink, timeout, startedAt: Date.now() };
    this.#byTask.set(job.taskId, slot);
    this.#post(slot, { type: "run", runId, taskId: job.taskId, attempt: job.attempt, kind: job.kind, input: job.input, trace: job.trace });
  }

  /** Aborts the task's run if it runs here; true if it did. */
  abort(taskId: string, reason: AbortReason, message: string): boolean {
    const slot = this.#byTask.get(taskId);
    if (!slot) return false;
    this.#abortSlot(slot, reason, message);
    return true;
  }

  abortAll(reason: AbortReason, message: string): void {
    for (const slot of this.#byTask.values()) this.#abortSlot(slot, reason, message);
  }

  /**
   * Terminates every thread at once; runs still going end as failed (shutdown). With tracing
   * on, each thread first exports the spans it holds (at most flushWaitMs).
   */
  async close(): Promise<void> {
    this.#closed = true;
    const slots = [...this.#slots];
    if (this.#options.tracing.enabled) await Promise.all(slots.map((slot) => this.#flushSpans(slot)));
    for (const slot of slots) {
      if (slot.run) this.#finish(slot, this.#abortedOutcome(slot.run, "shutdown", "the worker pool closed"));
      slot.state = "dead";
    }
    this.#slots.clear();
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /** Asks a thread to export its spans; resolves on its answer, or after flushWaitMs. */
  #flushSpans(slot: Slot): Promise<void> {
    if (slot.state === "dead" || slot.state === "starting") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        slot.worker.off("message", onMessage);
        resolve();
      };
      const onMessage = (message: FromWorker) => {
        if (message.type === "flushed") done();
      };
      const timer = setTimeout(done, flushWaitMs);
      slot.worker.on("message", onMessage);
      this.#post(slot, { type: "flush" });
    });
  }

  #spawn(seat: Seat): Promise<void> {
    const { modules, maxHeapMb, log, logLimits, tracing } = this.#options;
    const logCredit = createLogCredit();
    const worker = new Worker(threadUrl, {
      workerData: { modules, logCredit, logLimits, tracing } satisfies ThreadData,
      resourceLimits: { maxOldGenerationSizeMb: maxHeapMb },
    });
    liveThreads++;
    worker.once("exit", () => liveThreads--);
    const slot: Slot = { seat, worker, state: "starting", logCredit, recycle: false };
    this.#slots.add(slot);
    return new Promise((resolve, reject) => {
      const failStart = (error: Error) => {
        if (slot.state !== "starting") return;
        this.#retire(slot);
        reject(error);
      };
      worker.on("message", (message: FromWorker) => {
        if (message.type === "ready") {
          this.#kinds = new Set(message.kinds);
          slot.state = "idle";
          this.#respawnDelayMs = 0;
          resolve();
          this.#options.onIdle();
        } else if (message.type === "startup-failed") {
          failStart(rebuild(message.error, "worker thread failed to load the handler modules"));
        } else if (message.type !== "flushed") {
          // (flushed: the answer #flushSpans waits for with a listener of its own)
          this.#onRunMessage(slot, message);
        }
      });
      worker.on("error", (error) => {
        if (slot.state === "starting") return failStart(error);
        this.#onDeath(slot, `worker thread crashed: ${error.message}`, error);
      });
      worker.on("exit", (code) => {
        if (slot.state === "starting") return failStart(new Error(`worker thread exited with code ${code} while starting`));
        this.#onDeath(slot, `worker thread exited with code ${code}`);
      });
      log.debug({ threadId: worker.threadId }, "worker thread started");
    });
  }

  #onRunMessage(slot: Slot, message: Exclude<FromWorker, { type: "ready" | "startup-failed" | "flushed" }>): void {
    if (message.type === "tainted") {
      this.#options.log.warn(
        { taskId: message.taskId, err: message.error },
        "code left behind by a finished run threw: the thread will be replaced once free",
      );
      slot.recycle = true;
      if (slot.state === "idle") this.#recycle(slot, "code left behind by a finished run threw");
      return;
    }
    const run = slot.run;
    if (!run || run.runId !== message.runId) {
      // From a run that already ended (its thread was stopped): nothing to store.
      if (message.type === "logs") returnCredit(slot.logCredit, message.bytes);
      return;
    }
    if (message.type === "logs") {
      run.sink.logs(message.lines, () => returnCredit(slot.logCredit, message.bytes));
      return;
    }
    if (message.type === "progress") {
      run.sink.progress(message.progress);
      return;
    }
    const outcome: Outcome =
      message.type === "done"
        ? { status: "succeeded", resultJson: message.resultJson }
        : run.abort
          ? this.#abortedOutcome(run, run.abort.reason, run.abort.message, message.error)
          : toFailure(message.error);
    this.#finish(slot, outcome);
    if (message.recycle || slot.recycle) {
      this.#recycle(slot, slot.recycle ? "code left behind by a finished run threw" : "its run left it unfit for the next one");
      return;
    }
    slot.state = "idle";
    this.#options.onIdle();
  }

  /** Replaces a thread that is free but can no longer be trusted. */
  #recycle(slot: Slot, reason: string): void {
    this.#retire(slot);
    this.#replace(slot.seat, reason);
  }

  #abortSlot(slot: Slot, reason: AbortReason, message: string): void {
    const run = slot.run;
    if (!run || run.abort) return;
    const kill = setTimeout(() => {
      if (slot.run !== run) return;
      this.#options.log.warn({ taskId: run.job.taskId, reason }, "run ignored its abort signal: terminating its thread");
      this.#finish(slot, this.#abortedOutcome(run, reason, `${message}; thread terminated after ${this.#options.graceMs} ms`));
      this.#retire(slot);
      this.#replace(slot.seat, `terminated: its run ignored its abort signal (${reason}) for ${this.#options.graceMs} ms`);
    }, this.#options.graceMs);
    run.abort = { reason, message, kill };
    this.#post(slot, { type: "abort", runId: run.runId, reason, message });
  }

  #abortedOutcome(run: ActiveRun, reason: AbortReason, message: string, thrown?: SerializedError): Outcome {
    const type = abortTypes[reason];
    return { status: "failed", aborted: reason, error: { type, message, stack: thrown?.stack } };
  }

  #onDeath(slot: Slot, reason: string, error?: Error): void {
    if (slot.state === "dead") return;
    const run = slot.run;
    if (run) {
      this.#options.log.warn({ taskId: run.job.taskId, err: error }, reason);
      this.#finish(
        slot,
        run.abort
          ? this.#abortedOutcome(run, run.abort.reason, `${run.abort.message}; ${reason}`)
          : { status: "failed", error: { type: failureTypes.crashed, message: reason, stack: error?.stack } },
      );
    } else {
      this.#options.log.warn({ err: error }, reason);
    }
    this.#retire(slot);
    this.#replace(slot.seat, reason);
  }

  #finish(slot: Slot, outcome: Outcome): void {
    const run = slot.run;
    if (!run) return;
    clearTimeout(run.timeout);
    if (run.abort) clearTimeout(run.abort.kill);
    slot.run = undefined;
    this.#byTask.delete(run.job.taskId);
    if (outcome.status === "succeeded") slot.seat.completed++;
    else slot.seat.failed++;
    run.sink.done(outcome);
  }

  #retire(slot: Slot): void {
    slot.state = "dead";
    this.#slots.delete(slot);
    void slot.worker.terminate();
  }

  #replace(seat: Seat, reason: string): void {
    if (this.#closed) return;
    seat.restartedAt = Date.now();
    seat.restartReason = reason;
    const delay = this.#respawnDelayMs;
    setTimeout(() => {
      if (this.#closed) return;
      this.#spawn(seat).catch((error: unknown) => {
        // Modules that loaded before fail now (e.g. a file changed): keep trying, slower.
        this.#respawnDelayMs = Math.min(maxRespawnDelayMs, Math.max(500, this.#respawnDelayMs * 2));
        this.#options.log.error({ err: error }, "worker thread failed to start; retrying");
        this.#replace(seat, `its replacement failed to start: ${(error as Error).message}`);
      });
    }, delay).unref();
  }

  #post(slot: Slot, message: ToWorker): void {
    slot.worker.postMessage(message);
  }
}

function toTaskError(error: SerializedError): TaskError {
  return { type: error.name || "Error", message: error.message, stack: error.stack };
}

/**
 * A handler's throw as an outcome: final when it was a NonRetryableError. (An aborted run's
 * outcome is the abort's, not this: a handler stopped by a cancel, a timeout or a shutdown
 * throws because of it.)
 */
function toFailure(error: SerializedError): Outcome {
  return { status: "failed", error: toTaskError(error), ...(error.nonRetryable === true ? { final: true } : {}) };
}

function rebuild(serialized: SerializedError, context: string): Error {
  const error = new Error(`${context}: ${serialized.message}`);
  error.name = serialized.name;
  if (serialized.stack) error.stack = `${error.name}: ${error.message}\n${serialized.stack}`;
  return error;
}
