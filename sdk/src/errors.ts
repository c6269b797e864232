// One error type for every failed call: a code a program can branch on, the server's
// message (which names the field or the reason) and, when the server says so, how long to
// wait before retrying (google.rpc.RetryInfo in the grpc-status-details-bin trailer).
import { status, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { retryAfterMsFromStatus, statusDetailsKey } from "@spool/proto";
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

/**
 * Codes after which the same call may succeed if simply tried again. Also retryable: a
 * `resource_exhausted` that carries retryAfterMs (a tenant's create rate), after that wait.
 */
export const retryableCodes: ReadonlySet<SpoolErrorCode> = new Set(["unavailable"]);

export class SpoolError extends Error {
  override readonly name = "SpoolError";

  constructor(
    readonly code: SpoolErrorCode,
    message: string,
    /** The gRPC status code. */
    readonly grpcCode: status,
    options?: { cause?: unknown; task?: Task; retryAfterMs?: number | undefined },
  ) {
    super(message, options);
    this.task = options?.task;
    this.retryAfterMs = options?.retryAfterMs;
  }

  /** For `task_failed`: the task as it ended (its error, failures and logs tell why). */
  readonly task: Task | undefined;

  /**
   * How long the server asks the caller to wait before trying the same call again, in ms
   * (google.rpc.RetryInfo); undefined when it said nothing. Sent with `resource_exhausted`
   * when the tenant creates tasks faster than its rate.
   */
  readonly retryAfterMs: number | undefined;

  /** Trying the same call again may succeed: after retryAfterMs when it is set. */
  get retryable(): boolean {
    return retryableCodes.has(this.code) || (this.code === "resource_exhausted" && this.retryAfterMs !== undefined);
  }

  static from(error: unknown): SpoolError {
    if (error instanceof SpoolError) return error;
    const serviceError = error as Partial<ServiceError>;
    if (typeof serviceError?.code === "number" && serviceError.code in status) {
      const code = (status[serviceError.code] as string).toLowerCase() as SpoolErrorCode;
      return new SpoolError(code, serviceError.details || serviceError.message || code, serviceError.code, {
        cause: error,
        retryAfterMs: retryAfterMsOf(serviceError.metadata),
      });
    }
    return new SpoolError("unknown", error instanceof Error ? error.message : String(error), status.UNKNOWN, { cause: error });
  }
}

/** The retry delay a status's trailers carry; undefined when none can be read (never throws). */
function retryAfterMsOf(trailers: unknown): number | undefined {
  // Duck-typed: an error from another copy of grpc-js carries another Metadata class.
  if (typeof (trailers as Metadata | undefined)?.get !== "function") return undefined;
  try {
    const [value] = (trailers as Metadata).get(statusDetailsKey);
    return Buffer.isBuffer(value) ? retryAfterMsFromStatus(value) : undefined;
  } catch {
    return undefined;
  }
}
