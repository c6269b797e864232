// What handler authors write: `defineTask` and the context a handler runs with. This entry
// (`@spool/sdk/task`) imports nothing else (but types), so worker threads that load handler
// modules stay small and never pull in the gRPC client.
import type { Backoff } from "@spool/proto";

/** Logger handed to a handler; each call becomes one line of the task's log. */
export interface TaskLogger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** What a running handler knows of its task, and how it talks back. */
export interface TaskContext {
  /** Id of the task. */
  readonly taskId: string;
  /** Attempt number, 1 for the first run. */
  readonly attempt: number;
  /**
   * Fires when the task is cancelled, times out or the service shuts down. Stop promptly:
   * after the grace period the worker thread is terminated.
   */
  readonly signal: AbortSignal;
  /** Lines logged here (and through console.*) are stored and streamed live. */
  readonly log: TaskLogger;
  /**
   * Reports how far the task got: `fraction` from 0 to 1 (clamped), and what it is doing.
   * Shown on the task (`progress`) and sent to its watchers. Cheap to call often: reports
   * are merged, the latest wins.
   */
  progress(fraction: number, message?: string): void;
  /**
   * Waits `ms` milliseconds, or until `signal` fires: then it rejects with the signal's reason,
   * so `await ctx.sleep(...)` ends the run as a cancel should. Either way it leaves no timer
   * and no listener behind. Any length works (past setTimeout's 24.8 days too); `Infinity`
   * waits for the signal. A wait still pending when the run ends (started, then not
   * needed) is dropped: it never settles, so it cannot become an unhandled rejection.
   */
  sleep(ms: number): Promise<void>;
}

/**
 * The mark of a NonRetryableError. Symbol.for gives the same symbol to every copy of this
 * module, so an error from a user's own copy of the SDK is recognised by the service's copy,
 * where instanceof would not be.
 */
const nonRetryableMark = Symbol.for("spool.task.nonRetryable");

/**
 * Throw it (or a subclass) from a handler to fail the task at once: FAILED, not retried,
 * whatever attempts remain. For failures another attempt cannot fix: a refusal by a partner
 * API, a record that does not exist, input the schema could not judge. The error's type
 * stored on the task is its name, which is the class's name (`class CardDeclined extends
 * NonRetryableError {}` is stored as "CardDeclined") unless the class sets its own. A cancel
 * requested meanwhile still makes the task CANCELLED.
 */
export class NonRetryableError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name || "NonRetryableError";
  }

  /** The mark isNonRetryable reads; on the prototype, so subclasses have it too. */
  get [nonRetryableMark](): true {
    return true;
  }
}

/** True for a NonRetryableError (or subclass) of any copy of the SDK. */
export function isNonRetryable(error: unknown): boolean {
  return (typeof error === "object" || typeof error === "function") && error !== null && (error as Record<symbol, unknown>)[nonRetryableMark] === true;
}

/**
 * A Standard Schema (https://standardschema.dev): zod, valibot, arktype... all implement it.
 * Declared structurally here so the SDK depends on none of them.
 *
 * `Value` is what validation returns, and so what the handler receives; `Accepted` is what
 * the schema accepts, and so what a caller passes. They differ where the schema fills in a
 * default or transforms (`z.string().default("x")` accepts `string | undefined`, returns
 * `string`). A schema that declares no `types` accepts what it returns.
 */
export interface InputSchema<Value = unknown, Accepted = Value> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => InputSchemaResult<Value> | Promise<InputSchemaResult<Value>>;
    /** Types only, never read at run time: the schema's input and output types. */
    readonly types?: { readonly input: Accepted; readonly output: Value } | undefined;
  };
}

/** Outcome of a Standard Schema validation. */
export type InputSchemaResult<Input> =
  | { readonly value: Input; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string;
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
      }>;
    };

/**
 * A task handler: the code behind a kind. `Input` is what the handler receives, `Output` what
 * it returns, and `CallerInput` what a caller passes to create a task of it (the input
 * schema's input type; the same as `Input` without a schema).
 */
export interface TaskDefinition<Input = unknown, Output = unknown, CallerInput = Input> {
  /** Name callers use in CreateTask, e.g. "email.send". */
  readonly kind: string;
  /** Optional schema the input is checked against (and parsed by) when the task is created. */
  readonly input?: InputSchema<Input, CallerInput> | undefined;
  /** Runs one attempt. Its return value (JSON) becomes the task's result; a throw fails it. */
  readonly run: (input: Input, ctx: TaskContext) => Output | Promise<Output>;
  /**
   * The wait between attempts of this kind's tasks, where a task does not set its own: each
   * field given here replaces the default (base 1 s, factor 2, max 1 h, jitter 0.25).
   */
  readonly backoff?: Readonly<Partial<Backoff>> | undefined;
  /** Marks the object as a definition for the loader; set by defineTask. */
  readonly spoolTask: 1;
}

const kindPattern = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;

/**
 * Declares a task handler. Export the result from a module listed in SPOOL_TASKS:
 *
 * ```ts
 * export const sendEmail = defineTask({
 *   kind: "email.send",
 *   // Optional: the wait between attempts (unset fields keep the defaults).
 *   backoff: { baseMs: 30_000, maxMs: 3_600_000 },
 *   async run(input: { to: string }, ctx) {
 *     ctx.log.info("sending to", input.to);
 *     return { sent: true };
 *   },
 * });
 * ```
 *
 * The backoff is checked when Spool loads the module: a field out of range (baseMs 0..24 h
 * and maxMs 0..7 days, in whole ms; factor 1..10; jitter 0..1), a maxMs below the baseMs,
 * or a field of another name stops the service's start with a message naming the kind.
 */
export function defineTask<Input = unknown, Output = unknown, CallerInput = Input>(definition: {
  kind: string;
  input?: InputSchema<Input, CallerInput>;
  backoff?: Partial<Backoff>;
  run: (input: Input, ctx: TaskContext) => Output | Promise<Output>;
}): TaskDefinition<Input, Output, CallerInput> {
  if (!kindPattern.test(definition.kind)) {
    throw new TypeError(
      `defineTask: kind ${JSON.stringify(definition.kind)} must start with a letter and hold only letters, digits and . _ : - (at most 128)`,
    );
  }
  if (typeof definition.run !== "function") {
    throw new TypeError(`defineTask: run of ${definition.kind} must be a function`);
  }
  // A copy, frozen: the definition cannot change after the service has checked it.
  const backoff = typeof definition.backoff === "object" && definition.backoff !== null ? Object.freeze({ ...definition.backoff }) : definition.backoff;
  return Object.freeze({ kind: definition.kind, input: definition.input, backoff, run: definition.run, spoolTask: 1 as const });
}

/** True for what defineTask returned (in this or another copy of the SDK). */
export function isTaskDefinition(value: unknown): value is TaskDefinition {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { spoolTask?: unknown }).spoolTask === 1 &&
    typeof (value as { kind?: unknown }).kind === "string" &&
    typeof (value as { run?: unknown }).run === "function"
  );
}
