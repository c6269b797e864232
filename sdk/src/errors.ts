// One error type for every failed call: a code a program can branch on, and the server's
// message (which names the field or the reason).
import { status, type ServiceError } from "@grpc/grpc-js";
import type { Task } from "./types.js";

export type SpoolErrorCode =
  | "cancelled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated"
  /** Not a gRPC status: client.run() waited for a task that ended without success. */
  | "task_failed";

/** Codes after which the same call may succeed if simply tried again. */
export const retryableCodes: ReadonlySet<SpoolErrorCode> = new Set(["unavailable"]);

export class SpoolError extends Error {
  override readonly name = "SpoolError";

  constructor(
    readonly code: SpoolErrorCode,
    message: string,
    /** The gRPC status code. */
    readonly grpcCode: status,
    options?: { cause?: unknown; task?: Task },
  ) {
    super(message, options);
    this.task = options?.task;
  }

  /** For `task_failed`: the task as it ended (its error, failures and logs tell why). */
  readonly task: Task | undefined;

  get retryable(): boolean {
    return retryableCodes.has(this.code);
  }

  static from(error: unknown): SpoolError {
    if (error instanceof SpoolError) return error;
    const serviceError = error as Partial<ServiceError>;
    if (typeof serviceError?.code === "number" && serviceError.code in status) {
      const code = (status[serviceError.code] as string).toLowerCase() as SpoolErrorCode;
      return new SpoolError(code, serviceError.details || serviceError.message || code, serviceError.code, { cause: error });
    }
    return new SpoolError("unknown", error instanceof Error ? error.message : String(error), status.UNKNOWN, { cause: error });
  }
}
