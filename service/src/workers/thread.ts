// Entry point of a worker thread: loads the handler modules, then runs one task at a time.
//
// - Log lines (ctx.log and console.*) go to the pool in batches, under the thread's log
//   credit (log-credit.ts): when storage falls behind, logging blocks; when it stays behind,
//   or an attempt exceeds its byte budget, lines are dropped and one marker line says how
//   many. The outcome follows the run's last lines on the same port, so the pool always has
//   every line before the outcome.
// - With tracing on, each run has a span, `spool.run <kind>`, a child of the span of the call
//   that created the task, and the handler runs in its context (telemetry/tracing.ts).
// - Every run executes inside its own AsyncLocalStorage context, which timers and promises
//   it creates inherit. So output of code a run left behind (a timer that fires after the
//   handler returned) is attributed to that run, and dropped since it ended, never written
//   into the next task's log; and an error such code throws fails only its own run if it
//   is still going, else marks the thread for replacement once its current run is over.
import { AsyncLocalStorage } from "node:async_hooks";
import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import type { TaskContext, TaskDefinition, TaskLogger } from "@spool/sdk/task";
import { abortableSleep } from "./abortable-sleep.js";
import type { FromWorker, ThreadLogLine, ThreadProgress } from "./from-worker.js";
import { loadHandlers } from "./handlers.js";
import { takeCredit } from "./log-credit.js";
import { capText, resultJson, runOutputLimits, serializeError } from "./run-output.js";
import type { ThreadData, ToWorker } from "./to-worker.js";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import { setUpTracing } from "../telemetry/tracing.js";

if (!parentPort) throw new Error("thread.ts must run in a worker thread");
const port = parentPort;
const post = (message: FromWorker) => port.postMessage(message);
const { modules, logCredit, logLimits, tracing } = workerData as ThreadData;
// Each thread exports its own spans (its runs' and its handlers'), set up as the main thread's.
const threadTracing = tracing.enabled ? await setUpTracing({ env: process.env, version: tracing.version, instanceId: tracing.instanceId }) : undefined;
const tracer = trace.getTracer("spool");

/** A batch of lines is posted once it holds this many lines or bytes (or on the next turn). */
const linesPerMessage = 512;
const bytesPerMessage = 256 * 1024;

interface Run {
  runId: number;
  taskId: string;
  controller: AbortController;
  /** Set once its outcome is posted: anything it still logs is dropped. */
  ended: boolean;
  lines: ThreadLogLine[];
  /** Bytes of the lines buffered in `lines`. */
  bufferedBytes: number;
  /** Bytes this attempt has logged (buffered or posted), against its budget. */
  loggedBytes: number;
  /** Lines dropped because storage fell behind, not yet reported by a marker line. */
  droppedSlow: { lines: number; bytes: number };
  /** Lines dropped because the attempt exceeded its budget (reported when it ends). */
  droppedOverBudget: { lines: number; bytes: number };
  /** The latest progress report not yet posted. */
  progress: ThreadProgress | undefined;
  flushScheduled: boolean;
  /** Its `spool.run <kind>` span (tracing on), ended with its outcome. */
  span: Span | undefined;
}

const runs = new AsyncLocalStorage<Run>();
let current: Run | undefined;

function size(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.round(bytes / 1024)} KiB` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function marker(dropped: { lines: number; bytes: number }, why: string): ThreadLogLine {
  return { level: "warn", message: `${dropped.lines} log lines (${size(dropped.bytes)}) dropped: ${why}`, time: Date.now() };
}

/** Posts the buffered lines if storage takes them in time, else drops and counts them. */
function flush(run: Run): void {
  run.flushScheduled = false;
  if (run.lines.length > 0) {
    const slow = run.droppedSlow;
    const lines = slow.lines > 0 ? [marker(slow, "they were logged faster than they could be stored"), ...run.lines] : run.lines;
    const bytes = run.bufferedBytes + (slow.lines > 0 ? 100 : 0);
    if (takeCredit(logCredit, bytes, logLimits.windowBytes, logLimits.maxWaitMs)) {
      post({ type: "logs", runId: run.runId, lines, bytes });
      run.droppedSlow = { lines: 0, bytes: 0 };
    } else {
      slow.lines += run.lines.length;
      slow.bytes += run.bufferedBytes;
    }
    run.lines = [];
    run.bufferedBytes = 0;
  }
  if (run.progress) {
    post({ type: "progress", runId: run.runId, progress: run.progress });
    run.progress = undefined;
  }
}

function scheduleFlush(run: Run): void {
  if (run.flushScheduled) return;
  run.flushScheduled = true;
  setImmediate(() => {
    if (!run.ended) flush(run);
  });
}

/** The run's last lines, with a marker for every line it lost, posted whatever the credit. */
function finalFlush(run: Run): void {
  flush(run);
  const markers: ThreadLogLine[] = [];
  if (run.droppedSlow.lines > 0) markers.push(marker(run.droppedSlow, "they were logged faster than they could be stored"));
  if (run.droppedOverBudget.lines > 0) {
    markers.push(marker(run.droppedOverBudget, `the attempt logged more than its budget of ${size(logLimits.budgetBytes)} (SPOOL_LOG_BYTES_PER_ATTEMPT)`));
  }
  if (markers.length > 0) {
    // A few hundred bytes: always posted (credit taken without waiting), so a loss is never silent.
    const bytes = 200 * markers.length;
    takeCredit(logCredit, bytes, Number.MAX_SAFE_INTEGER, 0);
    post({ type: "logs", runId: run.runId, lines: markers, bytes });
  }
}

function reportProgress(run: Run, fraction: number, message: string | undefined): void {
  if (run.ended) return;
  const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  run.progress = { fraction: clamped, message: capText(String(message ?? ""), runOutputLimits.progressMessageLength), time: Date.now() };
  scheduleFlush(run);
}

function record(run: Run, level: ThreadLogLine["level"], args: unknown[]): void {
  if (run.ended) return; // left behind by a run that is over: its log is closed
  const message = capText(format(...args), runOutputLimits.logLineLength);
  const bytes = Buffer.byteLength(message);
  if (run.loggedBytes + bytes > logLimits.budgetBytes) {
    run.droppedOverBudget.lines++;
    run.droppedOverBudget.bytes += bytes;
    return;
  }
  run.loggedBytes += bytes;
  const span = threadTracing && trace.getActiveSpan()?.spanContext();
  run.lines.push(span ? { level, message, time: Date.now(), traceId: span.traceId, spanId: span.spanId } : { level, message, time: Date.now() });
  run.bufferedBytes += bytes;
  if (run.lines.length >= linesPerMessage || run.bufferedBytes >= bytesPerMessage) flush(run);
  else scheduleFlush(run);
}

// console.* inside a run becomes part of that run's log; outside any run it prints as usual.
const original = { ...console };
const consoleLevels = { debug: "debug", log: "info", info: "info", warn: "warn", error: "error", trace: "debug" } as const;
for (const [method, level] of Object.entries(consoleLevels)) {
  const fallback = original[method as keyof typeof consoleLevels].bind(console);
  console[method as keyof typeof consoleLevels] = (...args: unknown[]) => {
    const run = runs.getStore();
    if (run) record(run, level, args);
    else fallback(...args);
  };
}

function loggerFor(run: Run): TaskLogger {
  return {
    debug: (...args) => record(run, "debug", args),
    info: (...args) => record(run, "info", args),
    warn: (...args) => record(run, "warn", args),
    error: (...args) => record(run, "error", args),
  };
}

/**
 * The reason every ended run's signal is aborted with: one object, made once (a DOMException
 * per run, with its stack, was 2% of a thread's time on no-op tasks).
 */
const runEnded = new DOMException("the run has ended", "AbortError");

/** Ends the run with this outcome (once), after its last lines. */
function settle(run: Run, outcome: FromWorker): void {
  if (run.ended) return;
  finalFlush(run);
  run.ended = true;
  if (current === run) current = undefined;
  if (run.span) endSpan(run.span, outcome);
  post(outcome);
  // Whatever the run left behind and honours its signal stops now.
  run.controller.abort(runEnded);
}

async function execute(handlers: Map<string, TaskDefinition>, message: Extract<ToWorker, { type: "run" }>): Promise<void> {
  const run: Run = {
    runId: message.runId,
    taskId: message.taskId,
    controller: new AbortController(),
    ended: false,
    lines: [],
    bufferedBytes: 0,
    loggedBytes: 0,
    droppedSlow: { lines: 0, bytes: 0 },
    droppedOverBudget: { lines: 0, bytes: 0 },
    progress: undefined,
    flushScheduled: false,
    span: undefined,
  };
  current = run;
  // The run's span, a child of the call that created the task (docs/observability.md); the
  // handler runs in its context, so the spans it makes nest under it.
  const parent = message.trace.traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent: message.trace.traceparent }) : ROOT_CONTEXT;
  if (threadTracing) {
    run.span = tracer.startSpan(
      `spool.run ${message.kind}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "spool.task.id": message.taskId,
          "spool.task.kind": message.kind,
          "spool.task.queue": message.trace.queue,
          "spool.task.attempt": message.attempt,
          "spool.tenant": message.trace.tenant,
        },
      },
      parent,
    );
  }
  const runContext = run.span ? trace.setSpan(parent, run.span) : context.active();
  await context.with(runContext, () => runs.run(run, async () => {
    let outcome: FromWorker;
    try {
      const handler = handlers.get(message.kind);
      if (!handler) throw new Error(`no handler for kind "${message.kind}" in this worker`);
      const ctx: TaskContext = {
        taskId: message.taskId,
        attempt: message.attempt,
        signal: run.controller.signal,
        log: loggerFor(run),
        progress: (fraction, text) => reportProgress(run, fraction, text),
        sleep: (ms) => abortableSleep(ms, run.controller.signal, () => run.ended),
      };
      const result = resultJson(await handler.run(message.input, ctx));
      outcome = "json" in result
        ? { type: "done", runId: run.runId, resultJson: result.json }
        : { type: "failed", runId: run.runId, error: result.error };
    } catch (error) {
      outcome = { type: "failed", runId: run.runId, error: serializeError(error) };
    }
    settle(run, outcome);
  }));
}

/** The outcome as the span's status: OK, or ERROR with the error's type and message. */
function endSpan(span: Span, outcome: FromWorker): void {
  if (outcome.type === "done") span.setStatus({ code: SpanStatusCode.OK });
  else if (outcome.type === "failed") {
    span.setAttribute("error.type", outcome.error.name ?? "Error");
    span.setStatus({ code: SpanStatusCode.ERROR, message: capText(outcome.error.message ?? "", 1024) });
  }
  // Exported in batches (OTEL_BSP_SCHEDULE_DELAY): what a thread terminated for ignoring an
  // abort had not exported yet is lost with it.
  span.end();
}

/**
 * An error nothing caught (a throw in a timer, a rejected promise nobody awaited): it fails
 * the run that caused it if that run is still going, and in every case the thread is
 * replaced, since its state can no longer be trusted; a run going on meanwhile is not harmed.
 */
function onStrayError(error: unknown): void {
  const run = runs.getStore();
  const serialized = serializeError(error);
  if (run && run === current && !run.ended) {
    settle(run, { type: "failed", runId: run.runId, error: serialized, recycle: true });
  } else {
    post({ type: "tainted", taskId: run?.taskId, error: serialized });
  }
}

try {
  const handlers = await loadHandlers(modules);
  process.on("uncaughtException", onStrayError);
  process.on("unhandledRejection", onStrayError);
  port.on("message", (message: ToWorker) => {
    if (message.type === "run") {
      void execute(handlers, message);
    } else if (message.type === "flush") {
      void (threadTracing?.flush() ?? Promise.resolve()).finally(() => post({ type: "flushed" }));
    } else if (message.type === "abort" && current?.runId === message.runId) {
      current.controller.abort(new DOMException(message.message, "AbortError"));
    }
  });
  post({ type: "ready", kinds: [...handlers.keys()] });
} catch (error) {
  post({ type: "startup-failed", error: serializeError(error) });
}
