// watchTask: the WatchTask algorithm, independent of gRPC.
//
// Sends the task as it is, then waits for news of it (TaskWatchers, fed by the `t:` notices
// that every state change and progress report sends from whichever replica made it; plus the
// slow poll in case a notice is lost), reads it again and sends it if it changed, until it is
// terminal. Changes that come faster than the reader takes them are merged: each message is
// the latest version, and a slow reader holds one task in memory, never a queue.
import type { TaskSink } from "../domain/operations.js";
import { isTerminal, type Task } from "../domain/task.js";
import type { Db } from "../store/database.js";
import { getTask } from "../store/read-tasks.js";
import { waitForPoke } from "./log-stream.js";
import type { TaskWatchers } from "./task-watchers.js";

/**
 * `admit` sees the first read (undefined: no such task) and returns the task if the caller may
 * watch it, else throws (api: not_found). The caller's check shares the first read, made once
 * the watch is registered, so no change between a check and the watch can be missed.
 */
export async function watchTask(
  deps: { db: Db; watchers: TaskWatchers },
  id: string,
  sink: TaskSink,
  admit: (task: Task | undefined) => Task,
): Promise<void> {
  let changed = false;
  let wakeUp: (() => void) | undefined;
  const unwatch = deps.watchers.watch(id, (news) => {
    if (news !== "state") return;
    changed = true;
    wakeUp?.();
  });
  try {
    let task = admit(await getTask(deps.db, id));
    let sent = versionOf(task);
    await sink.write(task);
    while (!isTerminal(task.state)) {
      if (!changed) await waitForPoke(sink.signal, (resolve) => (wakeUp = resolve));
      wakeUp = undefined;
      if (sink.signal.aborted) return;
      changed = false;
      const latest = await getTask(deps.db, id);
      if (!latest) return; // deleted meanwhile
      task = latest;
      if (versionOf(task) !== sent) {
        sent = versionOf(task);
        await sink.write(task);
      }
    }
  } finally {
    unwatch();
  }
}

/** What a watcher is told about: state, attempt, progress and cancel request. */
function versionOf(task: Task): string {
  return `${task.state}/${task.attempt}/${task.progress?.at ?? ""}/${task.cancelRequested}`;
}
