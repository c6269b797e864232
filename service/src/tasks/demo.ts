// Built-in demo kinds: a new user can try every feature at once, and the tests have real work.
import { defineTask, type TaskContext } from "@spool/sdk/task";

/** Reads a number field of an object input, with a default and bounds. */
function numberField(input: unknown, field: string, fallback: number, max: number): number {
  const value = typeof input === "object" && input !== null ? (input as Record<string, unknown>)[field] : undefined;
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > max) {
    throw new RangeError(`input.${field} must be a number from 0 to ${max}`);
  }
  return value;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * demo.sleep {seconds, fail?}: counts the seconds, logging and reporting progress each,
 * checks for cancellation every second, and fails at the end if told to.
 */
export const demoSleep = defineTask({
  kind: "demo.sleep",
  async run(input: unknown, ctx: TaskContext) {
    const seconds = numberField(input, "seconds", 1, 86_400);
    const fail = typeof input === "object" && input !== null && (input as { fail?: unknown }).fail === true;
    for (let second = 1; second <= Math.ceil(seconds); second++) {
      ctx.signal.throwIfAborted();
      await sleep(Math.min(1000, (seconds - (second - 1)) * 1000), ctx.signal);
      ctx.log.info(`slept ${second} of ${Math.ceil(seconds)} s`);
      ctx.progress(second / Math.ceil(seconds), `slept ${second} of ${Math.ceil(seconds)} s`);
    }
    if (fail) throw new Error(`demo.sleep failed after ${seconds} s, as asked`);
    return { slept: seconds };
  },
});

/** demo.spin {ms}: a CPU loop that ignores cancellation; only terminating the thread stops it. */
export const demoSpin = defineTask({
  kind: "demo.spin",
  run(input: unknown, ctx: TaskContext) {
    const ms = numberField(input, "ms", 1000, 86_400_000);
    ctx.log.info(`spinning for ${ms} ms`);
    const end = Date.now() + ms;
    let turns = 0;
    while (Date.now() < end) turns++;
    return { spunMs: ms, turns };
  },
});

/** demo.echo: returns its input. */
export const demoEcho = defineTask({
  kind: "demo.echo",
  run: (input: unknown) => input,
});

/** demo.log {lines}: emits that many log lines, then returns how many. */
export const demoLog = defineTask({
  kind: "demo.log",
  run(input: unknown, ctx: TaskContext) {
    const lines = numberField(input, "lines", 10, 10_000_000);
    for (let i = 1; i <= lines; i++) ctx.log.info(`line ${i} of ${lines}`);
    return { lines };
  },
});
