// Requests that cannot be decoded get INVALID_ARGUMENT, not INTERNAL.
//
// grpc-js answers INTERNAL ("Error deserializing request") when a service definition's
// decoder throws: for random bytes, for a google.protobuf.Value nested past the decoder's
// recursion limit (an input about 49 JSON levels deep), for a truncated message. Each is the
// caller's mistake. guardDecoding wraps every method's decoder so that such a request reaches
// the handler as an Undecodable marker, and the handler answers with decodingProblem's error.
import type { ServiceDefinition } from "@grpc/grpc-js";
import { maxJsonDepth } from "../domain/json-values.js";
import { cut, SpoolError } from "../errors.js";

const undecodable = Symbol("undecodable");

interface Undecodable {
  [undecodable]: string;
}

/** The definition with each method's request decoder made total (see the header). */
export function guardDecoding<T extends ServiceDefinition>(definition: T): T {
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          return { [undecodable]: (error as Error).message ?? String(error) } satisfies Undecodable;
        }
      },
    };
  }
  return guarded as T;
}

/**
 * The error to answer a request with when it could not be decoded, else undefined.
 * `deepField` names the field a too-deep value is in (the only nesting a request can hold).
 */
export function decodingProblem(request: unknown, deepField = "request"): SpoolError | undefined {
  if (typeof request !== "object" || request === null || !(undecodable in request)) return undefined;
  const reason = (request as Undecodable)[undecodable];
  if (/recursion/i.test(reason)) {
    return SpoolError.invalidArgument(deepField, `is nested too deeply to decode; at most ${maxJsonDepth} levels`);
  }
  return SpoolError.invalidArgument("request", `is not a valid protobuf message of this method: ${cut(reason, 200)}`);
}
