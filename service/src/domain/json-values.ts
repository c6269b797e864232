// The limits of the JSON values Spool stores (task inputs and results), and the checks that
// keep a value storable in Postgres and readable by every client.
//
// - Depth: a google.protobuf.Value costs two protobuf nesting levels per JSON level, and
//   decoders stop at 100 (ts-proto, protobuf-es, Go); 32 JSON levels keep a Task, inside a
//   ListTasksResponse, well below that, so any client can read what Spool stored.
// - Text: Postgres's text and jsonb hold no NUL character, and jsonb refuses an unpaired
//   UTF-16 surrogate ("\ud800" as JSON).
// - Numbers: JSON has no NaN or Infinity (JSON.stringify writes null: silent loss).

/** Most nesting levels of arrays and objects in a stored value (a scalar is level 0). */
export const maxJsonDepth = 32;

/** Where a value breaks the rules: a JSON path below the field ("" for the value itself) and why. */
export interface JsonProblem {
  path: string;
  problem: string;
}

const unstorable = "\\u0000|[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]";
const nulOrLoneSurrogate = new RegExp(unstorable);
const nulsAndLoneSurrogates = new RegExp(unstorable, "g");

/** True when Postgres cannot store the text as it is (NUL, or an unpaired surrogate). */
export const hasUnstorableText = (text: string): boolean => nulOrLoneSurrogate.test(text);

/**
 * The first problem of a value to be stored as JSON, in document order: too deep, a number
 * that is not finite, a string or key with NUL or an unpaired surrogate. Iterative, so a
 * hostile depth cannot overflow the stack before the limit is reported.
 */
export function findJsonProblem(value: unknown, maxDepth = maxJsonDepth): JsonProblem | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: "", depth: 0 }];
  while (stack.length > 0) {
    const { value: item, path, depth } = stack.pop()!;
    if (typeof item === "number") {
      if (!Number.isFinite(item)) return { path, problem: `${item} is not a JSON number` };
    } else if (typeof item === "string") {
      if (hasUnstorableText(item)) return { path, problem: "holds a NUL character or an unpaired surrogate" };
    } else if (typeof item === "object" && item !== null) {
      if (depth >= maxDepth) return { path, problem: `is nested deeper than ${maxDepth} levels` };
      if (Array.isArray(item)) {
        for (let i = item.length - 1; i >= 0; i--) stack.push({ value: item[i], path: `${path}[${i}]`, depth: depth + 1 });
      } else {
        const entries = Object.entries(item);
        for (let i = entries.length - 1; i >= 0; i--) {
          const [key, child] = entries[i]!;
          const childPath = `${path}${/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key.slice(0, 40))}]`}`;
          if (hasUnstorableText(key)) return { path: childPath, problem: "key holds a NUL character or an unpaired surrogate" };
          stack.push({ value: child, path: childPath, depth: depth + 1 });
        }
      }
    }
  }
  return undefined;
}

/** The text with NUL and unpaired surrogates replaced by U+FFFD, the replacement character. */
export function storableText(text: string): string {
  return hasUnstorableText(text) ? text.replace(nulsAndLoneSurrogates, "\uFFFD") : text;
}

/**
 * Deepest nesting of arrays and objects in a JSON text, without parsing it (strings are
 * skipped): how deep the value it encodes is.
 */
export function jsonTextDepth(json: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 || c === 91) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 125 || c === 93) {
      depth--;
    }
  }
  return deepest;
}
