// Human output of the `spool` command: tables, task details, log lines, state lines and a
// progress bar, coloured on a terminal (unless NO_COLOR is set), plain otherwise.
//
// On a terminal the progress bar is a live line: it is rewritten in place, and any line
// printed while it shows (a log line, say) goes above it, the bar being drawn again below.
// Elsewhere (a pipe, a file, a test) every output is a whole line and a bar is printed as
// a line each time it changes, so the output stays line-based for grep and logs.
import { styleText } from "node:util";
import type { AttemptFailure, LogEntry, Task, TaskError, TaskProgress, TaskState } from "../types.js";
import { terminalStates } from "../types.js";
import { formatDuration } from "./time.js";

type Style = Parameters<typeof styleText>[0];

/** Where output goes: process.stdout, or a fake one in tests. */
export interface OutputStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Widths text is cut to (an error on a state line too): enough to recognise what it is. */
const errorWidth = 60;
const labelsWidth = 40;
const progressWidth = 40;

export class Output {
  readonly color: boolean;
  readonly live: boolean;
  /** The progress line on screen (live) or last printed (plain); undefined once ended. */
  #status: string | undefined;

  /** @param color default: on a terminal, unless NO_COLOR is set or TERM is dumb. */
  constructor(
    readonly stream: OutputStream = process.stdout,
    color = Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb",
  ) {
    this.color = color;
    this.live = Boolean(stream.isTTY);
  }

  style(format: Style, text: string): string {
    return this.color ? styleText(format, text) : text;
  }

  /** A whole line; on a terminal it goes above a live progress bar, which is drawn again. */
  line(text = ""): void {
    if (this.live && this.#status !== undefined) this.stream.write(`\r\x1b[2K${text}\n${this.#status}`);
    else this.stream.write(`${text}\n`);
  }

  /** One JSON document per line: what scripts read. */
  json(value: unknown): void {
    this.stream.write(`${JSON.stringify(value)}\n`);
  }

  state(state: TaskState): string {
    return this.style(stateStyles[state], state.toUpperCase());
  }

  table(headers: string[], rows: string[][]): void {
    const widths = headers.map((h, i) => Math.max(visible(h).length, ...rows.map((r) => visible(r[i] ?? "").length)));
    const render = (cells: string[]) =>
      cells
        .map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat(widths[i]! - visible(cell).length)))
        .join("  ")
        .trimEnd();
    this.line(this.style("bold", render(headers)));
    for (const row of rows) this.line(render(row));
  }

  /**
   * `spool list`'s table. DURATION is the latest attempt's: finished (or `now`, while it
   * runs) minus started. ERROR, LABELS and PROGRESS are cut to a column's width.
   */
  taskTable(tasks: Task[], now = Date.now()): void {
    this.table(
      ["ID", "KIND", "STATE", "ATTEMPT", "QUEUE", "CREATED", "DURATION", "PROGRESS", "LABELS", "ERROR"],
      tasks.map((t) => {
        const duration = taskDuration(t, now);
        return [
          t.id,
          t.kind,
          this.state(t.state),
          `${t.attempt}/${t.maxAttempts}`,
          t.queue,
          t.createdAt.toISOString(),
          duration === undefined ? "" : formatDuration(duration),
          t.progress && !terminalStates.has(t.state) ? cut(`${Math.round(t.progress.fraction * 100)}% ${t.progress.message}`, progressWidth) : "",
          cut(labelsText(t.labels), labelsWidth),
          t.error ? this.style("red", cut(errorText(t.error), errorWidth)) : "",
        ];
      }),
    );
  }

  task(task: Task): void {
    const rows: [string, string][] = [
      ["id", task.id],
      ["kind", task.kind],
      ["state", this.state(task.state) + (task.cancelRequested && !task.finishedAt ? " (cancel requested)" : "")],
      ["attempt", `${task.attempt} of ${task.maxAttempts}`],
      ["queue", task.queue],
      ["priority", String(task.priority)],
      ["input", JSON.stringify(task.input)],
    ];
    if (Object.keys(task.labels).length > 0) rows.push(["labels", Object.entries(task.labels).map(([k, v]) => `${k}=${v}`).join(", ")]);
    if (task.retryOf) rows.push(["retry of", task.retryOf]);
    if (task.progress) rows.push(["progress", `${this.bar(task.progress.fraction)} ${task.progress.message}`]);
    if (task.result !== undefined) rows.push(["result", JSON.stringify(task.result)]);
    if (task.error) rows.push(["error", this.style("red", errorText(task.error))]);
    for (const failure of task.failures.slice(0, task.error ? -1 : undefined)) {
      rows.push([`attempt ${failure.attempt}`, this.style("yellow", `${failure.type}: ${failure.message}`)]);
    }
    rows.push(["created", task.createdAt.toISOString()], ["run at", task.runAt.toISOString()]);
    if (task.startedAt) rows.push(["started", task.startedAt.toISOString()]);
    if (task.finishedAt) rows.push(["finished", task.finishedAt.toISOString()]);
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [key, value] of rows) this.line(`${this.style("dim", key.padEnd(width))}  ${value}`);
  }

  logLine(entry: LogEntry): void {
    const level = this.style(levelStyles[entry.level], entry.level.toUpperCase().padEnd(5));
    this.line(`${this.style("dim", `${String(entry.seq).padStart(5)} ${entry.time.toISOString()}`)} ${level} ${entry.message}`);
  }

  /** Before the log lines of another attempt than the previous line's. */
  attemptHeader(attempt: number): void {
    this.line(this.style("bold", `── attempt ${attempt} ──`));
  }

  /**
   * A change of state or attempt, stamped with the service's time of it (stateTime), so
   * the line says when it happened, not when this command heard of it. A task waiting to
   * retry says why its attempt failed: nothing else on screen would.
   */
  stateLine(task: Task): void {
    const failure = retryingAfter(task);
    const why = failure ? ` ${this.style("yellow", `(retry after ${cut(errorText(failure), errorWidth)})`)}` : "";
    this.line(`${this.style("dim", stateTime(task).toISOString())} ${this.state(task.state)} attempt ${task.attempt} of ${task.maxAttempts}${why}`);
  }

  /** Where a task stands, in one line: its state, attempt, and error if it has one. */
  outcome(task: Task): void {
    const error = task.error ? ` ${this.style("red", errorText(task.error))}` : "";
    this.line(`${this.state(task.state)} (attempt ${task.attempt} of ${task.maxAttempts})${error}`);
  }

  bar(fraction: number, width = 20): string {
    const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
    return `${this.style("cyan", "█".repeat(filled))}${this.style("dim", "░".repeat(width - filled))} ${Math.round(fraction * 100)
      .toString()
      .padStart(3)}%`;
  }

  /** A progress report as a bar and its message; `fraction` overrides the report's own. */
  progress(progress: TaskProgress, fraction = progress.fraction): void {
    this.status(`${this.bar(fraction)} ${progress.message}`);
  }

  /**
   * Shows a status (a progress bar): on a terminal it rewrites the live line; elsewhere it
   * prints a line, unless it is the one printed last.
   */
  status(text: string): void {
    if (text === this.#status) return;
    this.#status = text;
    this.stream.write(this.live ? `\r\x1b[2K${text}` : `${text}\n`);
  }

  /** Ends the status: on a terminal the live line stays as it is and output goes on below. */
  endStatus(): void {
    if (this.#status === undefined) return;
    if (this.live) this.stream.write("\n");
    this.#status = undefined;
  }
}

const stateStyles: Record<TaskState, Style> = {
  pending: "yellow",
  running: "cyan",
  succeeded: "green",
  failed: "red",
  cancelled: "magenta",
  dropped: "red",
};

const levelStyles: Record<LogEntry["level"], Style> = { debug: "dim", info: "blue", warn: "yellow", error: "red" };

// eslint-disable-next-line no-control-regex
const visible = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** Exit code of a command that waited for a task: how the task ended. */
export function exitCodeFor(state: TaskState): number {
  return { succeeded: 0, failed: 2, cancelled: 3, dropped: 4, pending: 5, running: 5 }[state];
}

/** `text` on one line (runs of white space become one space), at most `width` characters. */
export function cut(text: string, width: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  const chars = [...line]; // by code point, so a cut never splits a surrogate pair
  return chars.length <= width ? line : `${chars.slice(0, width - 1).join("")}…`;
}

export function errorText(error: Pick<TaskError, "type" | "message">): string {
  return `${error.type}: ${error.message}`;
}

/** Labels as k=v,k=v, sorted by key (the service keeps no order). */
export function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/**
 * How long the latest attempt ran, in ms: finished minus started, or `now` minus started
 * while it runs. Undefined if it never started, or waits for a retry (nothing runs).
 */
export function taskDuration(task: Task, now = Date.now()): number | undefined {
  if (!task.startedAt) return undefined;
  if (task.finishedAt) return task.finishedAt.getTime() - task.startedAt.getTime();
  return task.state === "running" ? now - task.startedAt.getTime() : undefined;
}

/**
 * When the task came to its current state, by the service's clock: finished for a terminal
 * task, started for a running one, the last failed attempt's end for one waiting to retry,
 * created for one that has not run yet. (A task carries no "updated at" of its own.)
 */
export function stateTime(task: Task): Date {
  if (terminalStates.has(task.state) && task.finishedAt) return task.finishedAt;
  if (task.state === "running" && task.startedAt) return task.startedAt;
  return retryingAfter(task)?.finishedAt ?? task.createdAt;
}

/** The failed attempt a pending task waits to retry after; undefined if it has not run. */
function retryingAfter(task: Task): AttemptFailure | undefined {
  const failure = task.failures.at(-1);
  return task.state === "pending" && failure?.attempt === task.attempt ? failure : undefined;
}
