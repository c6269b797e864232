// Built-in demo kinds: a new user can try every feature at once, and the tests have real work.
//
// Each kind but demo.echo declares an input schema, so a bad input (`{"seconds": "x"}`, a
// misspelt key) is refused at CreateTask with INVALID_ARGUMENT naming the field, instead of
// failing every attempt later. No input (or null) means every default.
//
// The schemas are zod's, but zod is imported only when one first validates, which happens in
// the main thread (CreateTask), which has zod loaded anyway. Worker threads load this module
// too, for the handlers, and never validate: importing zod there would cost every thread of
// every replica about 70 ms and 4 MB of heap at each start (measured on Node 20), for kinds
// most deployments never run.
import { defineTask, type InputSchema, type TaskContext } from "@spool/sdk/task";
import type { z } from "zod";

/** A zod schema built on first use; typed as zod types it, loaded as late as possible. */
function lazyZod<Schema extends z.ZodType>(build: (zod: typeof z) => Schema): InputSchema<z.output<Schema>, z.input<Schema>> {
  let schema: Promise<Schema> | undefined;
  return {
    "~standard": {
      version: 1,
      vendor: "zod",
      validate: async (value) => (await (schema ??= import("zod").then(({ z: zod }) => build(zod))))["~standard"].validate(value),
    },
  };
}

/** An object of these fields, strict (a misspelt key is refused); no input or null: all defaults. */
const fields = <Shape extends z.ZodRawShape>(zod: typeof z, shape: Shape) =>
  zod.preprocess((value) => value ?? {}, zod.strictObject(shape));

/**
 * The input a handler runs with: CreateTask stores it parsed, defaults filled in. A task
 * stored before these kinds had schemas (by an older replica, say) may lack fields or be
 * null: the defaults fill those in too.
 */
function withDefaults<Input extends object>(input: Input, defaults: Input): Input {
  return typeof input === "object" && input !== null && !Array.isArray(input) ? { ...defaults, ...input } : defaults;
}

const sleepDefaults = { seconds: 1, fail: false };
const spinDefaults = { ms: 1000 };
const logDefaults = { lines: 10 };

/**
 * demo.sleep {seconds, fail?}: counts the seconds, logging and reporting progress each,
 * checks for cancellation every second, and fails at the end if told to.
 */
export const demoSleep = defineTask({
  kind: "demo.sleep",
  input: lazyZod((zod) =>
    fields(zod, {
      seconds: zod.number().min(0).max(86_400).default(sleepDefaults.seconds),
      fail: zod.boolean().default(sleepDefaults.fail),
    }),
  ),
  async run(input, ctx: TaskContext) {
    const { seconds, fail } = withDefaults(input, sleepDefaults);
    for (let second = 1; second <= Math.ceil(seconds); second++) {
      await ctx.sleep(Math.min(1000, (seconds - (second - 1)) * 1000)); // rejects on cancel
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
  input: lazyZod((zod) => fields(zod, { ms: zod.number().min(0).max(86_400_000).default(spinDefaults.ms) })),
  run(input, ctx: TaskContext) {
    const { ms } = withDefaults(input, spinDefaults);
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
  input: lazyZod((zod) => fields(zod, { lines: zod.int().min(0).max(10_000_000).default(logDefaults.lines) })),
  run(input, ctx: TaskContext) {
    const { lines } = withDefaults(input, logDefaults);
    for (let i = 1; i <= lines; i++) ctx.log.info(`line ${i} of ${lines}`);
    return { lines };
  },
});
