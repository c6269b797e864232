// Entry point of a worker thread: loads the handler modules, then runs one task at a time.
// Log lines (ctx.log and console.*) go to the pool in small batches; the outcome follows the
// run's last lines on the same port, so the pool always has every line before the outcome.
import { format } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import type { TaskContext, TaskDefinition, TaskLogger } from "@spool/sdk/task";
import { serializeError, type FromWorker, type ThreadLogLine, type ThreadProgress } from "./from-worker.js";
import { loadHandlers } from "./handlers.js";
import type { ThreadData, ToWorker } from "./to-worker.js";

if (!parentPort) throw new Error("thread.ts must run in a worker thread");
const port = parentPort;
const post = (message: FromWorker) => port.postMessage(message);

/** Longest log line kept; longer ones are cut. */
const maxLineLength = 64 * 1024;
/** Lines buffered before they are sent without waiting for the next turn of the loop. */
const linesPerMessage = 512;

interface Run {
  runId: number;
  controller: AbortController;
  lines: ThreadLogLine[];
  /** The latest progress report not yet posted. */
  progress: ThreadProgress | undefined;
  flushScheduled: boolean;
}

let current: Run | undefined;

function flush(run: Run): void {
  run.flushScheduled = false;
  if (run.lines.length > 0) {
    post({ type: "logs", runId: run.runId, lines: run.lines });
    run.lines = [];
  }
  if (run.progress) {
    post({ type: "progress", runId: run.runId, progress: run.progress });
    run.progress = undefined;
  }
}

function scheduleFlush(run: Run): void {
  if (run.flushScheduled) return;
  run.flushScheduled = true;
  setImmediate(() => flush(run));
}

/** Longest progress message kept. */
const maxProgressMessage = 1000;

function reportProgress(run: Run, fraction: number, message: string | undefined): void {
  const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const text = String(message ?? "");
  run.progress = { fraction: clamped, message: text.slice(0, maxProgressMessage), time: Date.now() };
  scheduleFlush(run);
}

function record(run: Run, level: ThreadLogLine["level"], args: unknown[]): void {
  let message = format(...args);
  if (message.length > maxLineLength) {
    message = `${message.slice(0, maxLineLength)}... [${message.length - maxLineLength} characters cut]`;
  }
  run.lines.push({ level, message, time: Date.now() });
  if (run.lines.length >= linesPerMessage) flush(run);
  else scheduleFlush(run);
}

// console.* inside a task becomes part of its log; outside a task it prints as usual.
const original = { ...console };
const consoleLevels = { debug: "debug", log: "info", info: "info", warn: "warn", error: "error", trace: "debug" } as const;
for (const [method, level] of Object.entries(consoleLevels)) {
  const fallback = original[method as keyof typeof consoleLevels].bind(console);
  console[method as keyof typeof consoleLevels] = (...args: unknown[]) => {
    if (current) record(current, level, args);
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

/** The value as JSON would store it; throws a TypeError naming the problem otherwise. */
function asJson(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (error) {
    throw new TypeError(`the handler's result is not JSON-serializable: ${(error as Error).message}`);
  }
}

async function run(handlers: Map<string, TaskDefinition>, message: Extract<ToWorker, { type: "run" }>): Promise<void> {
  const active: Run = { runId: message.runId, controller: new AbortController(), lines: [], progress: undefined, flushScheduled: false };
  current = active;
  let outcome: FromWorker;
  try {
    const handler = handlers.get(message.kind);
    if (!handler) throw new Error(`no handler for kind "${message.kind}" in this worker`);
    const ctx: TaskContext = {
      taskId: message.taskId,
      attempt: message.attempt,
      signal: active.controller.signal,
      log: loggerFor(active),
      progress: (fraction, text) => reportProgress(active, fraction, text),
    };
    const result = asJson(await handler.run(message.input, ctx));
    outcome = { type: "done", runId: message.runId, result };
  } catch (error) {
    outcome = { type: "failed", runId: message.runId, error: serializeError(error) };
  }
  current = undefined;
  flush(active);
  post(outcome);
}

try {
  const { modules } = workerData as ThreadData;
  const handlers = await loadHandlers(modules);
  port.on("message", (message: ToWorker) => {
    if (message.type === "run") {
      void run(handlers, message);
    } else if (message.type === "abort" && current?.runId === message.runId) {
      current.controller.abort(new DOMException(message.message, "AbortError"));
    }
  });
  post({ type: "ready", kinds: [...handlers.keys()] });
} catch (error) {
  post({ type: "startup-failed", error: serializeError(error) });
}
