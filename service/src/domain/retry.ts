// RetryTask: a task that ended without success runs again as a NEW task, linked to the old
// one by retry_of, rather than as a new attempt of the old one:
// - an ended task never changes: its state, error, failures and finished_at stay the record
//   of what happened, and whoever watched, listed or cached it can trust them;
// - the attempt number stays the fencing token of one run, and max_attempts keeps meaning
//   what it says (a task never has more attempts than it allows);
// - the retry is a task like any other: it can be watched, cancelled and retried itself, and
//   retention ages it from its own end. retry_of leads back to the task it retries (until
//   retention deletes that one).
//
// The new task is the old one's: same kind, input (as stored), queue, priority, limits,
// labels, concurrency key, backoff and schedule, in the old task's tenant, but created by the
// caller. Not copied: the idempotency key (it stays with the task that holds it) and the tick
// (scheduled_for: the tick's one task is the old one). Due at once.
import { quote, SpoolError } from "../errors.js";
import type { NewTask, Task, TaskState } from "./task.js";

export const retryableStates: ReadonlySet<TaskState> = new Set(["failed", "cancelled", "dropped"]);

/** The task that retries `task`, created by `createdBy`; FAILED_PRECONDITION unless it can be retried. */
export function retryOf(task: Task, createdBy: string, kinds: ReadonlySet<string>): NewTask {
  if (!retryableStates.has(task.state)) {
    const why = task.state === "succeeded" ? "it succeeded: create a new task to run it again" : "it has not ended: cancel it first, or wait";
    throw new SpoolError(
      "failed_precondition",
      `task ${task.id} is ${task.state.toUpperCase()}: only a FAILED, CANCELLED or DROPPED task can be retried (${why})`,
    );
  }
  if (!kinds.has(task.kind)) {
    throw new SpoolError("failed_precondition", `task ${task.id} is of kind ${quote(task.kind)}, which no handler module loaded here defines`);
  }
  return {
    kind: task.kind,
    input: task.input,
    queue: task.queue,
    priority: task.priority,
    runAt: undefined,
    maxAttempts: task.maxAttempts,
    timeoutMs: task.timeoutMs,
    idempotencyKey: undefined,
    labels: task.labels,
    concurrencyKey: task.concurrencyKey ?? undefined,
    backoff: task.backoff,
    schedule: task.schedule ?? undefined,
    retryOf: task.id,
    tenant: task.tenant,
    createdBy,
  };
}
