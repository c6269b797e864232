// Activity: how many attempts ended in each minute, by outcome, per (tenant, queue). Replicas
// count them in memory (activity/activity-recorder.ts) and add them to spool.task_activity
// every few seconds (store/activity.ts); GetActivity reads them back, a bucket per minute.

/** The outcomes counted: an attempt's end, as GetActivity names it. */
export interface ActivityCounts {
  /** Attempts that succeeded. */
  succeeded: number;
  /** Attempts that ended their task FAILED: no attempt left, or not retryable. */
  failed: number;
  /** Attempts that failed and left their task PENDING, to run again after its backoff. */
  retried: number;
  /** Running attempts cancelled. */
  cancelled: number;
}

export type ActivityOutcome = keyof ActivityCounts;

/** The counts of one queue in one minute, as a replica adds them. */
export interface ActivityRow extends ActivityCounts {
  tenant: string;
  queue: string;
  /** The minute's start (a whole minute). */
  minute: Date;
}

/** One minute of a window: the counts of every queue asked for. */
export interface ActivityBucket extends ActivityCounts {
  /** The minute's start. */
  start: Date;
}

export const activityLimits = {
  /** The longest window GetActivity serves, in minutes: a day. */
  maxMinutes: 1440,
  /** The window when the request gives none. */
  defaultMinutes: 60,
  /** How long counts are kept. */
  keepMs: 7 * 24 * 3600_000,
} as const;
