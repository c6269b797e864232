// The one table from domain error codes to gRPC status codes, and what else an error carries
// on the wire: a retry delay as google.rpc.RetryInfo (@spool/proto's status-details.ts).
import { status, type ServiceError, Metadata } from "@grpc/grpc-js";
import { encodeRetryStatus, statusDetailsKey } from "@spool/proto";
import { cut, SpoolError, type SpoolErrorCode } from "../errors.js";

const statusOf: Record<SpoolErrorCode, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  failed_precondition: status.FAILED_PRECONDITION,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  internal: status.INTERNAL,
};

/**
 * Any error as a gRPC error; internal details stay in the server log. The message is cut to
 * maxErrorMessageLength: a status echoing a huge input never reached grpc-js clients, and
 * every later call on the channel hung.
 *
 * A SpoolError with a retryAfterMs (finite, 0 or more; not on `internal`) also says when to
 * retry: the message ends "; retry in 1.5 s", and the trailers carry a google.rpc.Status with
 * the same code and message and a RetryInfo of that delay in `grpc-status-details-bin`, which
 * grpc-go, grpc-java, Google's client libraries, `buf curl` and the Spool SDK read.
 */
export function toServiceError(error: unknown): Partial<ServiceError> & { code: status; details: string } {
  const spoolError = SpoolError.from(error);
  const code = statusOf[spoolError.code];
  const metadata = new Metadata();
  if (spoolError.code === "internal") return { code, details: "internal error", message: "internal error", metadata };
  const retryAfterMs = spoolError.retryAfterMs;
  if (retryAfterMs === undefined || !(retryAfterMs >= 0 && retryAfterMs <= Number.MAX_SAFE_INTEGER)) {
    const details = cut(spoolError.message);
    return { code, details, message: details, metadata };
  }
  const details = `${cut(spoolError.message)}; retry in ${retryText(retryAfterMs)}`;
  metadata.set(statusDetailsKey, encodeRetryStatus(code, details, retryAfterMs));
  return { code, details, message: details, metadata };
}

/** A delay as people read it: seconds to a tenth, rounded up ("0.1 s", "1.5 s", "120 s"). */
function retryText(ms: number): string {
  return `${Math.ceil(ms / 100) / 10} s`;
}
