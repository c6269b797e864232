// Following one task live on a terminal, as `spool watch` and `spool create --wait` show it:
// a line at each change of state or attempt, stamped with the service's time of the change;
// a progress bar while it runs; and, if asked, its log lines as they come. Ends when the
// task does. A succeeded task that reported progress ends on a full bar, whatever its last
// report said, so the bar never stops short of a task that is done.
//
// The log lines come from StreamLogs and the states from WatchTask: two streams, and either
// may be ahead. A log line of an attempt whose state line has not been shown yet is held
// until it has, so an attempt's lines always follow its "RUNNING attempt N" line. Both
// streams end once the task has ended and all was sent; the final state line waits for both,
// and any line still held is shown before it. If either stream fails, the other is stopped
// and the error thrown.
import type { SpoolClient } from "../client.js";
import { terminalStates, type Task } from "../types.js";
import type { LogEntry } from "../types.js";
import type { Output } from "./format.js";

/** What following needs of a SpoolClient (a fake one in tests). */
export type FollowClient = Pick<SpoolClient, "watchTask" | "streamLogs">;

export interface FollowOptions {
  /** Print the task's log lines too (from the first). */
  logs: boolean;
}

/** Follows the task to its end; the last version of it seen (undefined if none came). */
export async function followTask(client: FollowClient, id: string, out: Output, options: FollowOptions): Promise<Task | undefined> {
  const stop = new AbortController();
  const lines = new HeldLines(out);
  try {
    const [last] = await Promise.all([watch(client, id, out, lines, stop.signal), options.logs ? printLogs(client, id, lines, stop.signal) : undefined]);
    lines.release(Infinity);
    if (last && terminalStates.has(last.state)) {
      if (last.state === "succeeded" && last.progress) out.progress(last.progress, 1);
      out.endStatus();
      out.stateLine(last);
    }
    return last;
  } finally {
    stop.abort();
    out.endStatus();
  }
}

/** Shows every version of the task but the final one, which followTask shows after the logs. */
async function watch(client: FollowClient, id: string, out: Output, lines: HeldLines, signal: AbortSignal): Promise<Task | undefined> {
  let last: Task | undefined;
  for await (const task of client.watchTask(id, { signal })) {
    if (terminalStates.has(task.state)) return task; // the stream's last message
    if (!last || last.state !== task.state || last.attempt !== task.attempt) {
      out.endStatus();
      out.stateLine(task);
      if (task.state === "running") lines.release(task.attempt);
    }
    // Progress is kept after an attempt ends: a new attempt's bar starts with its own report.
    if (task.state === "running" && task.progress?.attempt === task.attempt) out.progress(task.progress);
    last = task;
  }
  return last;
}

async function printLogs(client: FollowClient, id: string, lines: HeldLines, signal: AbortSignal): Promise<void> {
  for await (const entry of client.streamLogs(id, { follow: true, signal })) lines.add(entry);
}

/** Log lines shown up to the attempt whose state line has been shown, held past it. */
class HeldLines {
  #shownAttempt = 0;
  #held: LogEntry[] = [];

  constructor(private readonly out: Output) {}

  add(entry: LogEntry): void {
    if (entry.attempt <= this.#shownAttempt && this.#held.length === 0) this.out.logLine(entry);
    else this.#held.push(entry);
  }

  /** The state line of `attempt` is shown: its lines and those before it may follow. */
  release(attempt: number): void {
    this.#shownAttempt = Math.max(this.#shownAttempt, attempt);
    let i = 0;
    while (i < this.#held.length && this.#held[i]!.attempt <= this.#shownAttempt) this.out.logLine(this.#held[i++]!);
    this.#held.splice(0, i);
  }
}
