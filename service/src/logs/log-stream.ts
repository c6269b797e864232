// streamLogs: the StreamLogs algorithm, independent of gRPC.
//
// Replays the stored lines after afterSeq, page by page, writing each page only when the
// reader has taken the previous one (a slow reader holds at most one page in memory and never
// slows the task: lines are read from the table, not buffered per reader). With follow, it
// then waits for news of the task (TaskWatchers, fed by LISTEN/NOTIFY from whichever replica
// runs it; plus a slow poll in case a notice is lost) and reads again; it reads the task's
// state only when told it changed (or the poll fired). A task's outcome commits with or after
// all its lines (recordAttempts), so once the task is seen terminal, one more read delivers
// the rest and the stream ends.
import type { LogSink, LogStreamRequest } from "../domain/operations.js";
import { isTerminal, type LogLine, type TaskAccess } from "../domain/task.js";
import type { Db, Sql } from "../store/database.js";
import { readLogs, tailStart } from "../store/logs.js";
import { getTaskState } from "../store/read-tasks.js";
import type { TaskWatchers } from "./task-watchers.js";

export interface LogStreamDeps {
  sql: Sql;
  db: Db;
  watchers: TaskWatchers;
}

const pageSize = 1000;
const fallbackPollMs = 2000;

/**
 * `admit` sees the first read of the task's state and owner (undefined: no such task) and
 * throws if the caller may not read its log (api: not_found): one read serves both.
 */
export async function streamLogs(
  deps: LogStreamDeps,
  request: LogStreamRequest,
  sink: LogSink,
  admit: (task: TaskAccess | undefined) => TaskAccess,
): Promise<void> {
  let poked = false;
  let stateChanged = false;
  let wakeUp: (() => void) | undefined;
  const unwatch = deps.watchers.watch(request.taskId, (news) => {
    poked = true;
    if (news === "state") stateChanged = true;
    wakeUp?.();
  });
  try {
    const { state } = admit(await getTaskState(deps.db, request.taskId));
    let after = request.tail > 0 ? await tailStart(deps.sql, request.taskId, request.afterSeq, request.tail) : request.afterSeq;
    let finalRead = !request.follow || isTerminal(state);
    for (;;) {
      if (sink.signal.aborted) return;
      poked = false;
      const lines = await readLogs(deps.sql, request.taskId, after, pageSize);
      if (lines.length > 0) {
        await sink.write(lines);
        after = (lines.at(-1) as LogLine).seq;
        if (lines.length === pageSize) continue;
      }
      if (finalRead) return;
      // A state change seen before this point (even before the read above) must not wait.
      if (!poked && !stateChanged && (await waitForPoke(sink.signal, (resolve) => (wakeUp = resolve))) === "timeout") {
        stateChanged = true;
      }
      wakeUp = undefined;
      if (stateChanged) {
        stateChanged = false;
        const now = await getTaskState(deps.db, request.taskId);
        if (now === undefined || isTerminal(now.state)) finalRead = true;
      }
    }
  } finally {
    unwatch();
  }
}

/** Waits for a poke, the reader leaving, or the fallback poll: says which ended the wait. */
export function waitForPoke(signal: AbortSignal, register: (resolve: () => void) => void): Promise<"poke" | "timeout"> {
  return new Promise((resolve) => {
    const end = (why: "poke" | "timeout") => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(why);
    };
    const onAbort = () => end("poke");
    const timer = setTimeout(() => end("timeout"), fallbackPollMs);
    signal.addEventListener("abort", onAbort, { once: true });
    register(() => end("poke"));
  });
}
