// Messages from the pool to a worker thread. Each names the run it is about (runId), so a
// message meant for an earlier run is never applied to the current one.

/** Why a run is stopped: cancel, its timeout, shutdown, or its replica lost the lease. */
export type AbortReason = "cancelled" | "timeout" | "shutdown" | "lost";

export type ToWorker =
  | {
      type: "run";
      runId: number;
      taskId: string;
      attempt: number;
      kind: string;
      input: unknown;
      trace: RunTrace;
    }
  | {
      /** Export the spans it holds (tracing on), then answer `flushed`: the pool is closing. */
      type: "flush";
    }
  | {
      /** Fire the run's AbortSignal; the pool terminates the thread if it does not stop. */
      type: "abort";
      runId: number;
      reason: AbortReason;
      message: string;
    };

/** What a run's span (`spool.run <kind>`) records, and the trace it continues. */
export interface RunTrace {
  /** W3C traceparent of the call that created the task; null: the run starts a trace. */
  traceparent: string | null;
  queue: string;
  tenant: string;
}

/** How a thread treats its runs' log lines (see log-credit.ts and thread.ts). */
export interface ThreadLogLimits {
  /** Log text one attempt may store; lines beyond it are dropped and counted. */
  budgetBytes: number;
  /** Log text posted but not yet stored above which the thread waits (back-pressure). */
  windowBytes: number;
  /** Longest wait for storage before a batch of lines is dropped (and counted). */
  maxWaitMs: number;
}

/** What a thread is started with (its workerData). */
export interface ThreadData {
  /** Absolute paths or file: URLs of handler modules, or directories of them. */
  modules: string[];
  /** The thread's log credit counter (log-credit.ts), shared with the pool. */
  logCredit: Int32Array;
  logLimits: ThreadLogLimits;
  /** Whether to trace runs, and the replica the spans' resource names. */
  tracing: { enabled: boolean; version: string; instanceId: string };
}
