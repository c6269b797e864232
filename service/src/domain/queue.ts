// A queue as every layer sees it: a (tenant, name) pair with settings that apply across the
// cluster, and its depth. Queues exist from their first task (store/task-creator.ts).

export interface QueueSettings {
  tenant: string;
  name: string;
  /** No task of it starts while paused; running ones finish. */
  paused: boolean;
  /** Most of its tasks running at once in the cluster; null: no limit. */
  concurrencyLimit: number | null;
  /** Most of its running tasks with one concurrency key; null: no limit. */
  keyConcurrencyLimit: number | null;
  /** How long its ended tasks are kept; null: the default. */
  retentionMs: number | null;
}

export interface Queue extends QueueSettings {
  /** Pending and due; each count stops at queueCountCap. */
  pending: number;
  /** Pending, due later. */
  scheduled: number;
  running: number;
  /** How long the longest-waiting due task has waited past its run_at; 0 when none. */
  oldestPendingAgeMs: number;
}

/** A page of a queue listing: the queues after `after` in (tenant, name) order, at most `limit`. */
export interface QueuePage {
  after?: { tenant: string; name: string };
  limit: number;
}

/** Depth counts stop here, so that a huge backlog costs a bounded read. */
export const queueCountCap = 1_000_000;

/** A change of settings: each field given is set (null removes a limit), the others kept. */
export interface QueueChange {
  paused?: boolean;
  concurrencyLimit?: number | null;
  keyConcurrencyLimit?: number | null;
  retentionMs?: number | null;
}

/** Ended tasks are kept this long when the queue sets no retention. */
export const defaultRetentionMs = 7 * 24 * 3600_000;
