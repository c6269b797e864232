// Domain errors. Every layer throws SpoolError with a code; the gRPC layer maps the code to a
// status (api/status.ts), so a caller always gets a status whose message names the field or
// the reason.
export type SpoolErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "unauthenticated"
  | "permission_denied"
  | "resource_exhausted"
  | "unavailable"
  | "internal";

export class SpoolError extends Error {
  override readonly name = "SpoolError";

  constructor(
    readonly code: SpoolErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }

  /** For `resource_exhausted` and `unavailable`: when trying again may succeed (google.rpc.RetryInfo). */
  readonly retryAfterMs: number | undefined;

  static invalidArgument(field: string, problem: string): SpoolError {
    return new SpoolError("invalid_argument", `${field}: ${problem}`);
  }

  /** Any thrown value as a SpoolError: database outages become `unavailable`. */
  static from(error: unknown): SpoolError {
    if (error instanceof SpoolError) return error;
    if (isConnectionError(error)) {
      return new SpoolError("unavailable", "database unavailable, retry later", { cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new SpoolError("internal", message, { cause: error });
  }
}

/**
 * A value as error messages and logs quote it: JSON-quoted, cut to `max` characters, so a
 * hostile 100 KB kind or id is never echoed back (the caller knows what it sent).
 */
export function quote(value: string, max = 64): string {
  const more = value.length > max ? ` (${value.length} characters)` : "";
  return `${quoteKey(value, max)}${more}`;
}

/** As quote, without the length: for a key inside a field path (`labels["k..."]`). */
export function quoteKey(value: string, max = 64): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}...` : value);
}

/** Longest error message a caller gets or the service log writes; beyond it, the text is cut. */
export const maxErrorMessageLength = 1000;

/** Cuts a message to `max` characters, saying so. */
export function cut(text: string, max = maxErrorMessageLength): string {
  return text.length > max ? `${text.slice(0, max)}... [${text.length - max} characters cut]` : text;
}

/**
 * An error as the service log records it: bounded in size (a failed query's message can
 * quote every parameter: a 100,000-entry filter once made a 9.6 MB log line).
 */
export function errorForLog(error: unknown): { type: string; message: string; code?: unknown; stack?: string | undefined } {
  if (!(error instanceof Error)) return { type: typeof error, message: cut(String(error)) };
  const cause = (error as { cause?: unknown }).cause;
  const code = (error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
  return {
    type: error.name,
    message: cut(error.message),
    code,
    stack: error.stack === undefined ? undefined : cut(error.stack, 4000),
  };
}

/**
 * True when an error means the database cannot be reached right now (retrying may work):
 * it is down or restarting, out of reach, or the server we reached is not the primary (a
 * standby during a failover). Callers then get UNAVAILABLE and the attempt writer retries.
 */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  // drizzle wraps the driver's error (DrizzleQueryError): the cause tells.
  const cause = (error as { cause?: unknown }).cause;
  if (cause !== undefined && cause !== error && isConnectionError(cause)) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  return (
    code.startsWith("08") || // connection_exception class; 08001 also when no host of a multi-host URL is the primary (store/primary-finder.ts)
    code === "57P01" || // admin_shutdown: also what a primary's sessions get when it is stopped for a failover
    code === "57P02" || // crash_shutdown
    code === "57P03" || // cannot_connect_now: starting up, shutting down, or at the end of a promotion
    code === "53300" || // too_many_connections
    // read_only_sql_transaction: the server is in recovery, a standby. Spool writes only to a
    // primary, so it reached one only because the primary is not there right now: a
    // single-host URL (a DNS name, a virtual IP) that still points at the standby, or a
    // session opened on the standby before it was promoted. It retries; once the standby
    // is promoted (or the name moves) the same statement works. Spool never makes a
    // transaction read-only itself; the one other cause is a primary set read-only by its
    // operator (default_transaction_read_only, as some managed services do when the disk
    // fills), where waiting until it is writable again is right too.
    code === "25006" ||
    code === "ECONNREFUSED" ||
    code === "ECONNRESET" ||
    code === "ETIMEDOUT" ||
    code === "EPIPE" ||
    code === "ENOTFOUND" ||
    // The failed primary's machine is gone (no route to it) or its address moved away:
    // a failover may bring the address back (a virtual IP) or the name may move (DNS).
    code === "EHOSTUNREACH" ||
    code === "ENETUNREACH" ||
    code === "EAI_AGAIN" || // DNS lookup failed for now, as while a failover updates the name
    code === "CONNECT_TIMEOUT" ||
    code === "CONNECTION_CLOSED" ||
    code === "CONNECTION_ENDED" ||
    code === "CONNECTION_DESTROYED" // also: postgres.js refused a standby (target_session_attrs=primary)
  );
}
