// The one table from domain error codes to gRPC status codes.
import { status, type ServiceError, Metadata } from "@grpc/grpc-js";
import { SpoolError, type SpoolErrorCode } from "../errors.js";

const statusOf: Record<SpoolErrorCode, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  failed_precondition: status.FAILED_PRECONDITION,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  internal: status.INTERNAL,
};

/** Any error as a gRPC error; internal details stay in the server log. */
export function toServiceError(error: unknown): Partial<ServiceError> & { code: status; details: string } {
  const spoolError = SpoolError.from(error);
  const details = spoolError.code === "internal" ? "internal error" : spoolError.message;
  return { code: statusOf[spoolError.code], details, message: details, metadata: new Metadata() };
}
