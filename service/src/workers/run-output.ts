// What a handler hands back, shaped inside its thread so that the main thread only forwards
// it and Postgres always takes it:
//   - text (log lines, progress messages, error name, message and stack, strings and keys of
//     the result) has NUL and unpaired surrogates replaced by U+FFFD (json-values.ts): stored,
//     never refused, never lost;
//   - every piece has a ceiling (runOutputLimits); a result past its ceiling fails the attempt
//     with a clear error type instead of reaching the database.
import { isNonRetryable } from "@spool/sdk/task";
import { findJsonProblem, jsonTextDepth, maxJsonDepth, storableText } from "../domain/json-values.js";
import { cut } from "../errors.js";
import type { SerializedError } from "./from-worker.js";

export const runOutputLimits = {
  /** A result, as JSON. */
  resultBytes: 1024 * 1024,
  /** An error's name (its type), message and stack, in characters. */
  errorTypeLength: 200,
  errorMessageLength: 8 * 1024,
  errorStackLength: 16 * 1024,
  /** A progress message, and one log line, in characters. */
  progressMessageLength: 1000,
  logLineLength: 64 * 1024,
} as const;

/** Failure types for results Spool cannot store. */
export const resultErrorTypes = { tooLarge: "ResultTooLarge", tooDeep: "ResultTooDeep" } as const;

/** `text` cut to `max` characters, saying how much was cut. */
export function capText(text: string, max: number): string {
  return cut(storableText(text), max);
}

/** The JSON text to store as a handler's result, or the error that fails the attempt instead. */
export function resultJson(value: unknown): { json: string } | { error: SerializedError } {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    return { error: { name: "TypeError", message: `the handler's result is not JSON-serializable: ${capText((error as Error).message, 1000)}` } };
  }
  if (json === undefined) return { json: "null" }; // undefined, a function, a symbol
  const bytes = Buffer.byteLength(json);
  if (bytes > runOutputLimits.resultBytes) {
    return { error: { name: resultErrorTypes.tooLarge, message: `the handler's result is ${bytes} bytes as JSON; at most ${runOutputLimits.resultBytes}` } };
  }
  if (jsonTextDepth(json) > maxJsonDepth) {
    return { error: { name: resultErrorTypes.tooDeep, message: `the handler's result is nested deeper than ${maxJsonDepth} levels` } };
  }
  // JSON.stringify writes NUL and unpaired surrogates as escapes that jsonb refuses. Rare:
  // look for them in the text first, and rebuild the value only when one may be there.
  if (/\\u0000|\\ud[89a-f]/i.test(json) && findJsonProblem(JSON.parse(json)) !== undefined) {
    json = JSON.stringify(JSON.parse(json), (_key, item: unknown) =>
      typeof item === "string" ? storableText(item) : item && typeof item === "object" && !Array.isArray(item) ? withStorableKeys(item) : item,
    );
  }
  return { json };
}

function withStorableKeys(object: object): object {
  const entries = Object.entries(object);
  if (!entries.some(([key]) => storableText(key) !== key)) return object;
  return Object.fromEntries(entries.map(([key, item]) => [storableText(key), item]));
}

/**
 * Any thrown value as plain data, storable and bounded; flagged when it is a NonRetryableError
 * (by its mark, so a user's own copy of the SDK counts too: instanceof would miss it).
 */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return {
      name: capText(String(error.name || "Error"), runOutputLimits.errorTypeLength),
      message: capText(String(error.message), runOutputLimits.errorMessageLength),
      stack: typeof error.stack === "string" ? capText(error.stack, runOutputLimits.errorStackLength) : undefined,
      ...(isNonRetryable(error) ? { nonRetryable: true } : {}),
    };
  }
  const text = typeof error === "string" ? error : safeString(error);
  return { name: "Error", message: capText(text, runOutputLimits.errorMessageLength) };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    try {
      return String(value);
    } catch {
      return "a value that cannot be shown";
    }
  }
}
