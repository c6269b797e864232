// What happens to tasks, as the parts that move them report it: the API creates, the scheduler
// starts and finishes, the lease keeper takes back. telemetry/metrics.ts counts them, and
// activity/activity-recorder.ts counts endings for GetActivity (allOf tells both); the parts
// reporting know nothing of either.

export interface TaskLabels {
  kind: string;
  queue: string;
  /** The task's tenant: the activity counts are per tenant (the task counters of metrics.ts are not). */
  tenant: string;
}

/**
 * How an attempt ended: its task's new state, or "retry" (failed with attempts left: pending
 * again) or "interrupted" (given back at shutdown: pending again, its attempt returned).
 */
export type FinishOutcome = "succeeded" | "failed" | "cancelled" | "dropped" | "retry" | "interrupted";

export interface TaskEvents {
  created(tasks: readonly TaskLabels[]): void;
  /** An attempt started in a thread, `pickupMs` after its run_at. */
  started(task: TaskLabels, pickupMs: number): void;
  /** An attempt's outcome was stored; `runMs`: its run in the thread, when it ran here. */
  finished(task: TaskLabels, outcome: FinishOutcome, runMs: number | undefined): void;
  /** A task set to run again: by its backoff after a failed attempt, or by RetryTask. */
  retried(task: TaskLabels, by: "backoff" | "request"): void;
  /** Attempts taken back from replicas whose lease expired. */
  leasesExpired(count: number): void;
}

/** TaskEvents that go nowhere: for parts run without metrics (tests). */
export const noTaskEvents: TaskEvents = {
  created: () => {},
  started: () => {},
  finished: () => {},
  retried: () => {},
  leasesExpired: () => {},
};

/** TaskEvents that tell each of `events`, in order. */
export function allOf(...events: TaskEvents[]): TaskEvents {
  return {
    created: (tasks) => events.forEach((e) => e.created(tasks)),
    started: (task, pickupMs) => events.forEach((e) => e.started(task, pickupMs)),
    finished: (task, outcome, runMs) => events.forEach((e) => e.finished(task, outcome, runMs)),
    retried: (task, by) => events.forEach((e) => e.retried(task, by)),
    leasesExpired: (count) => events.forEach((e) => e.leasesExpired(count)),
  };
}
