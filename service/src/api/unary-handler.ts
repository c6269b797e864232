// unaryHandler: what every unary RPC of every Spool service does around its own work:
// authenticate the caller and check the role the method needs, refuse requests that did not
// decode cleanly (told only to callers that may call at all), then run the handler and turn
// any failure into a gRPC status (status.ts), logged by its weight, all in the call's server
// span (rpc-span.ts). Nothing escapes to crash the process.
import { status, type handleUnaryCall, type ServerUnaryCall, type ServerWritableStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { requireRole } from "../auth/access.js";
import type { Authenticator } from "../auth/authenticator.js";
import type { Principal, Role } from "../auth/principal.js";
import { errorForLog } from "../errors.js";
import { decodingProblem } from "./decode-guard.js";
import { inServerSpan } from "./rpc-span.js";
import { toServiceError } from "./status.js";

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

/** The caller of `method`, if it holds at least `role`; else UNAUTHENTICATED or PERMISSION_DENIED. */
export async function callerOf(auth: Authenticator, role: Role, method: string, call: AnyCall): Promise<Principal> {
  const principal = await auth.authenticate({ metadata: call.metadata, peerCertificate: call.getAuthContext()?.sslPeerCertificate });
  requireRole(principal, role, method);
  return principal;
}

export function unaryHandler<Req, Res>(
  auth: Authenticator,
  log: Logger,
  role: Role,
  method: string,
  handle: (request: Req, principal: Principal, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    void inServerSpan(call.getPath(), call.metadata, async () => {
      try {
        const principal = await callerOf(auth, role, method, call as AnyCall);
        const problem = decodingProblem(call.request);
        if (problem) throw problem;
        callback(null, await handle(call.request, principal, call));
        return status.OK;
      } catch (error) {
        const serviceError = reportError(log, method, error);
        callback(serviceError);
        return serviceError.code;
      }
    });
  };
}

/** The status for a failed call; internal errors are logged, unavailable ones warned of. */
export function reportError(log: Logger, method: string, error: unknown) {
  const serviceError = toServiceError(error);
  if (serviceError.code === status.INTERNAL) log.error({ err: errorForLog(error), method }, "request failed");
  else if (serviceError.code === status.UNAVAILABLE) log.warn({ err: errorForLog(error), method }, "request failed: unavailable");
  else if (serviceError.code === status.UNAUTHENTICATED) log.debug({ method, reason: serviceError.details }, "request refused: unauthenticated");
  return serviceError;
}
