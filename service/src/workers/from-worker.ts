// Messages from a worker thread to the pool. Errors cross the boundary as plain data, results
// as JSON text (the thread checks and serializes them: run-output.ts).

export interface SerializedError {
  name: string;
  message: string;
  stack?: string | undefined;
  /**
   * The handler threw a NonRetryableError (of any copy of the SDK: read from its mark, not
   * with instanceof): the task fails at once, whatever attempts remain.
   */
  nonRetryable?: boolean | undefined;
}

export interface ThreadLogLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  /** Epoch ms when it was logged. */
  time: number;
  /** The span it was logged in (tracing on). */
  traceId?: string;
  spanId?: string;
}

export interface ThreadProgress {
  fraction: number;
  message: string;
  /** Epoch ms when it was reported. */
  time: number;
}

export type FromWorker =
  | { type: "ready"; kinds: string[] }
  | { type: "startup-failed"; error: SerializedError }
  /** `bytes`: the log credit the thread took for these lines (log-credit.ts), to give back once stored. */
  | { type: "logs"; runId: number; lines: ThreadLogLine[]; bytes: number }
  | { type: "progress"; runId: number; progress: ThreadProgress }
  /** `recycle`: the thread's state can no longer be trusted (an uncaught error): replace it. */
  | { type: "done"; runId: number; resultJson: string; recycle?: boolean }
  | { type: "failed"; runId: number; error: SerializedError; recycle?: boolean }
  /**
   * Code left behind by an earlier run (a timer, a promise) threw after that run ended. The
   * run now going on is not harmed; the thread is replaced once it is free.
   */
  | { type: "tainted"; taskId: string | undefined; error: SerializedError }
  /** Its spans are exported (the answer to a `flush`). */
  | { type: "flushed" };
