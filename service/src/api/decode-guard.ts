// Requests that cannot be decoded, or not decoded faithfully, get INVALID_ARGUMENT naming the
// field, never INTERNAL and never a silent change.
//
// - grpc-js answers INTERNAL ("Error deserializing request") when a service definition's
//   decoder throws: for random bytes, for a google.protobuf.Value nested past the decoder's
//   recursion limit (an input about 49 JSON levels deep), for a truncated message. Each is
//   the caller's mistake. guardDecoding wraps every method's decoder so that such a request
//   reaches the handler as an Undecodable marker, and the handler answers with
//   decodingProblem's error. For CreateTasks the guard finds which task is too deep.
// - The generated decoders store map entries (labels) and Struct fields (input) with plain
//   assignment, so a key "__proto__" vanished silently (or, with an object value, became the
//   prototype of the input's object). Before decoding, the guard masks every "__proto__" in
//   the bytes (same length, so every length prefix stays true); after it, it puts the text
//   back in strings and refuses a key that holds it, naming where.
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { CreateTaskRequest } from "@spool/proto";
import { maxJsonDepth } from "../domain/json-values.js";
import { cut, quoteKey, SpoolError } from "../errors.js";

const undecodable = Symbol("undecodable");

interface Undecodable {
  [undecodable]: SpoolError;
}

const protoKey = Buffer.from("__proto__");
/** "__proto__" with its first byte made NUL: the same length, and no valid text holds it (NUL is refused). */
const masked = "\u0000_proto__";
const maskedBytes = Buffer.from(masked);

/** The definition with each method's request decoder made total and faithful (see the header). */
export function guardDecoding<T extends ServiceDefinition>(definition: T): T {
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const isCreateTasks = name === "createTasks";
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        // Should the mask itself be in the bytes (it can only be in text that holds a NUL,
        // which is refused anyway), masking could not be undone faithfully.
        if (bytes.includes(maskedBytes)) return { [undecodable]: SpoolError.invalidArgument("request", "holds a NUL character in a string") };
        const hasProtoKey = bytes.includes(protoKey);
        const input = hasProtoKey ? maskProtoKeys(bytes) : bytes;
        let request: unknown;
        try {
          request = method.requestDeserialize(input);
        } catch (error) {
          const reason = (error as Error).message ?? String(error);
          return { [undecodable]: problemOf(reason, isCreateTasks ? deepTaskOf(input) : deepFieldOf(name)) } satisfies Undecodable;
        }
        if (!hasProtoKey) return request;
        const refused = unmask(request as Record<string, unknown>, "");
        return refused ? ({ [undecodable]: refused } satisfies Undecodable) : request;
      },
    };
  }
  return guarded as T;
}

/** The error to answer a request with when it could not be decoded faithfully, else undefined. */
export function decodingProblem(request: unknown): SpoolError | undefined {
  if (typeof request !== "object" || request === null || !(undecodable in request)) return undefined;
  return (request as Undecodable)[undecodable];
}

function problemOf(reason: string, deepField: string): SpoolError {
  if (/recursion/i.test(reason)) {
    return SpoolError.invalidArgument(deepField, `is nested too deeply to decode; at most ${maxJsonDepth} levels`);
  }
  return SpoolError.invalidArgument("request", `is not a valid protobuf message of this method: ${cut(reason, 200)}`);
}

/** Where a value too deep to decode sits: only a task's input nests (a schedule's template's too). */
function deepFieldOf(method: string): string {
  if (method === "createTask") return "input";
  return method === "createSchedule" || method === "updateSchedule" ? "schedule.task.input" : "request";
}

/** The field path of the first task of a CreateTasksRequest that cannot be decoded. */
function deepTaskOf(bytes: Uint8Array): string {
  try {
    const reader = new BinaryReader(bytes);
    for (let index = 0; reader.pos < reader.len; ) {
      const [field, wireType] = reader.tag();
      if (field !== 1 || wireType !== WireType.LengthDelimited) {
        reader.skip(wireType);
        continue;
      }
      const task = reader.bytes();
      try {
        CreateTaskRequest.decode(task);
      } catch {
        return `tasks[${index}].input`;
      }
      index++;
    }
  } catch {
    // Not even the outer message reads: the request as a whole.
  }
  return "tasks";
}

function maskProtoKeys(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  for (let at = copy.indexOf(protoKey); at >= 0; at = copy.indexOf(protoKey, at + protoKey.length)) copy[at] = 0;
  return copy;
}

/**
 * Puts "__proto__" back into every string of the decoded request, in place; returns the
 * error for the first key that holds it, if any. `path` is the field path so far.
 */
function unmask(value: Record<string, unknown> | unknown[], path: string): SpoolError | undefined {
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value);
  for (const [key, item] of entries) {
    const at = typeof key === "number" ? `${path}[${key}]` : path === "" ? snakeCase(key) : `${path}${pathStep(key.replaceAll(masked, "__proto__"))}`;
    if (key === masked) return SpoolError.invalidArgument(at, `a key named "__proto__" is not accepted`);
    if (typeof key === "string" && key.includes(masked)) {
      // A longer key that holds the text ("a__proto__") is an ordinary key: rename it back.
      const record = value as Record<string, unknown>;
      delete record[key];
      record[key.replaceAll(masked, "__proto__")] = item;
    }
    if (typeof item === "string") {
      if (item.includes(masked)) (value as Record<string | number, unknown>)[key] = item.replaceAll(masked, "__proto__");
    } else if (Array.isArray(item) || (typeof item === "object" && item !== null && Object.getPrototypeOf(item) === Object.prototype)) {
      const refused = unmask(item as Record<string, unknown>, at);
      if (refused) return refused;
    }
  }
  return undefined;
}

/**
 * A key as a step of a field path, like json-values.ts's: `.key` for a name, else quoted
 * (`[" "]`, `["a.b"]`), so that a key holding a space, a dot or a colon cannot blur where the
 * path ends (`input. .__proto__` named no field a caller could find).
 */
function pathStep(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${quoteKey(key)}]`;
}

/** A top-level field's proto name (the field paths of errors use them: run_at, not runAt). */
function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
