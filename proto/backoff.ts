// Exponential backoff, the one formula every retry in Spool waits by: the SDK's retries and
// stream reconnects, the service's database reconnects and attempt writes, and a failed
// task's wait before its next attempt. The last is computed in SQL, by spool.retry_delay
// (service/drizzle/0011_task_backoff.sql), with the same formula: keep the two alike.
//
// Also the limits of a task's Backoff (spool.v1.Backoff), shared by CreateTask's validation
// and the check of a kind's backoff when the service loads its handler modules.
import { defaultBackoff, type Backoff } from "./convert.js";

/**
 * The wait before retry number n + 1 (n = 0 for the first): baseMs * factor^n, at most
 * maxMs, then spread by jitter: drawn between (1 - jitter) and (1 + jitter) times that, so
 * that callers that failed together do not come back together.
 */
export function backoffDelayMs(policy: Backoff, n: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, n);
  // factor^n overflows to Infinity for a large n: the cap then holds.
  const capped = Math.min(policy.maxMs, policy.baseMs * policy.factor ** exponent);
  return capped * (1 - policy.jitter + random() * 2 * policy.jitter);
}

/** The range of each field of a task's Backoff (task.proto). */
export const backoffLimits = {
  maxBaseMs: 24 * 3600_000,
  maxMaxMs: 7 * 24 * 3600_000,
  minFactor: 1,
  maxFactor: 10,
} as const;

const backoffFields = ["baseMs", "factor", "maxMs", "jitter"] as const;

/**
 * What is wrong with a partial Backoff given in code (a kind's, in defineTask), as
 * `field: problem`, or undefined when it is usable: every field it sets in range, no field
 * of another name, and a maximum at least the base once the defaults fill in the rest.
 */
export function backoffProblem(backoff: unknown): string | undefined {
  if (backoff === undefined) return undefined;
  if (typeof backoff !== "object" || backoff === null || Array.isArray(backoff)) return "must be an object";
  const given = backoff as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(backoffFields as readonly string[]).includes(key)) return `${key} is not a backoff field (${backoffFields.join(", ")})`;
  }
  const range = (key: (typeof backoffFields)[number], min: number, max: number, whole = false) => {
    const value = given[key];
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value) || (whole && !Number.isInteger(value))) {
      const shown = typeof value === "number" ? String(value) : (JSON.stringify(value) ?? String(value));
      return `${key}: ${shown} is not ${whole ? "a whole number of ms" : "a number"}`;
    }
    if (value < min || value > max) return `${key}: ${value} is out of range ${min}..${max}`;
    return undefined;
  };
  const problem =
    range("baseMs", 0, backoffLimits.maxBaseMs, true) ??
    range("factor", backoffLimits.minFactor, backoffLimits.maxFactor) ??
    range("maxMs", 0, backoffLimits.maxMaxMs, true) ??
    range("jitter", 0, 1);
  if (problem) return problem;
  const resolved = resolveBackoff(given as Partial<Backoff>);
  if (resolved.maxMs < resolved.baseMs) {
    const from = given.maxMs === undefined ? " (the default: set maxMs too)" : "";
    return `maxMs: ${resolved.maxMs} is less than baseMs (${resolved.baseMs})${from}`;
  }
  return undefined;
}

/** The fields `partial` sets (undefined ones left out) over `under` (by default, the defaults). */
export function resolveBackoff(partial: Partial<Backoff> | undefined, under: Backoff = defaultBackoff): Backoff {
  const resolved = { ...under };
  for (const key of backoffFields) {
    const value = partial?.[key];
    if (value !== undefined) resolved[key] = value;
  }
  return resolved;
}
