// The one table from domain error codes to gRPC status codes.
import { status, type ServiceError, Metadata } from "@grpc/grpc-js";
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
 */
export function toServiceError(error: unknown): Partial<ServiceError> & { code: status; details: string } {
  const spoolError = SpoolError.from(error);
  const details = spoolError.code === "internal" ? "internal error" : cut(spoolError.message);
  return { code: statusOf[spoolError.code], details, message: details, metadata: new Metadata() };
}
