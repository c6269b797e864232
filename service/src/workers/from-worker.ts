// Messages from a worker thread to the pool. Errors cross the boundary as plain data.

export interface SerializedError {
  name: string;
  message: string;
  stack?: string | undefined;
}

export interface ThreadLogLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  /** Epoch ms when it was logged. */
  time: number;
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
  | { type: "logs"; runId: number; lines: ThreadLogLine[] }
  | { type: "progress"; runId: number; progress: ThreadProgress }
  | { type: "done"; runId: number; result: unknown }
  | { type: "failed"; runId: number; error: SerializedError };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  return { name: "Error", message: typeof error === "string" ? error : safeString(error) };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
