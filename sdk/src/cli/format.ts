// Human output of the `spool` command: tables, task details, log lines and a progress bar,
// coloured on a terminal (unless NO_COLOR is set), plain otherwise.
import { styleText } from "node:util";
import type { LogEntry, Task, TaskState } from "../types.js";

type Style = Parameters<typeof styleText>[0];

export class Output {
  readonly color: boolean;

  constructor(readonly stream: NodeJS.WriteStream = process.stdout) {
    this.color = Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  }

  style(format: Style, text: string): string {
    return this.color ? styleText(format, text) : text;
  }

  line(text = ""): void {
    this.stream.write(`${text}\n`);
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
    if (task.progress) rows.push(["progress", `${this.bar(task.progress.fraction)} ${task.progress.message}`]);
    if (task.result !== undefined) rows.push(["result", JSON.stringify(task.result)]);
    if (task.error) rows.push(["error", this.style("red", `${task.error.type}: ${task.error.message}`)]);
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

  bar(fraction: number, width = 20): string {
    const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
    return `${this.style("cyan", "█".repeat(filled))}${this.style("dim", "░".repeat(width - filled))} ${Math.round(fraction * 100)
      .toString()
      .padStart(3)}%`;
  }

  /** Rewrites the current terminal line (a live progress bar); plain lines elsewhere. */
  status(text: string): void {
    if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${text}`);
    else this.line(text);
  }

  endStatus(): void {
    if (this.stream.isTTY) this.stream.write("\n");
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
