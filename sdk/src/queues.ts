// QueueClient: spool.v1.QueueService, as `client.queues` of a SpoolClient (same channel,
// token, deadline and retries). Every call needs the operator role.
import { msFromDuration, durationFromMs, type Queue as PbQueue, type QueueServiceClient } from "@spool/proto";
import { dateOf } from "./convert.js";
import { SpoolError } from "./errors.js";
import type { UnaryCaller } from "./unary-caller.js";

export interface Queue {
  name: string;
  tenant: string;
  /** No task of it starts while paused; running ones finish. */
  paused: boolean;
  /** Most of its tasks running at once in the whole cluster; undefined: no limit. */
  concurrencyLimit: number | undefined;
  /** Most of its running tasks with one concurrencyKey; undefined: no limit. */
  keyConcurrencyLimit: number | undefined;
  /** How long its ended tasks are kept, in ms. */
  retentionMs: number;
  /** Live tasks by state (each count stops at 1,000,000). */
  depth: { pending: number; scheduled: number; running: number };
  /** How long the longest-waiting due task has waited, in ms; 0 when none waits. */
  oldestPendingAgeMs: number;
}

export interface QueueSettingsChange {
  /** A number sets the limit; null removes it. */
  concurrencyLimit?: number | null;
  keyConcurrencyLimit?: number | null;
  /** How long ended tasks are kept, in ms (1 minute to 10 years). */
  retentionMs?: number;
}

export interface QueuePage {
  queues: Queue[];
  /** Pass as pageToken for the next page; undefined on the last. */
  nextPageToken?: string;
}

export interface QueueTarget {
  /** Another tenant's queue (admin only); default: the caller's own. */
  tenant?: string;
}

/** Attempts that ended in one minute, by outcome (QueueClient.activity). */
export interface ActivityBucket {
  /** The minute's start. */
  start: Date;
  /** Attempts that succeeded. */
  succeeded: number;
  /** Attempts that failed for good (no attempt left, or not retryable). */
  failed: number;
  /** Attempts that failed and were set to run again. */
  retried: number;
  /** Running attempts cancelled. */
  cancelled: number;
}

export interface ActivityQuery extends QueueTarget {
  /** Only this queue; default: every queue of the tenant. */
  queue?: string;
  /** Minutes back from now, the current one included: 1..1440; default 60. */
  minutes?: number;
}

export class QueueClient {
  constructor(
    private readonly client: QueueServiceClient,
    private readonly caller: UnaryCaller,
  ) {}

  /** The tenant's queues in name order, every page; `tenant: "*"` lists every tenant's (admin). */
  async list(options: QueueTarget = {}): Promise<Queue[]> {
    const queues: Queue[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.listPage({ ...options, pageSize: 1000, pageToken });
      queues.push(...page.queues);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return queues;
  }

  /** One page of the tenant's queues, in (tenant, name) order. */
  async listPage(options: QueueTarget & { pageSize?: number; pageToken?: string } = {}): Promise<QueuePage> {
    const request = { tenant: options.tenant ?? "", pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? "" };
    const response = await this.caller.call(this.client, "listQueues", request, true);
    return { queues: response.queues.map(queueFromPb), nextPageToken: response.nextPageToken || undefined };
  }

  /** Changes the settings given and keeps the others; a queue with no task yet is set up ahead. */
  async update(name: string, change: QueueSettingsChange, options: QueueTarget = {}): Promise<Queue> {
    const limit = (value: number | null | undefined) => (value === undefined ? undefined : (value ?? 0));
    const request = {
      name,
      tenant: options.tenant ?? "",
      concurrencyLimit: limit(change.concurrencyLimit),
      keyConcurrencyLimit: limit(change.keyConcurrencyLimit),
      retention: change.retentionMs === undefined ? undefined : durationFromMs(change.retentionMs),
    };
    return queueFromPb((await this.caller.call(this.client, "updateQueue", request, true)).queue);
  }

  /** Stops every replica from starting the queue's tasks; running ones finish. */
  async pause(name: string, options: QueueTarget = {}): Promise<Queue> {
    return queueFromPb((await this.caller.call(this.client, "pauseQueue", { name, tenant: options.tenant ?? "" }, true)).queue);
  }

  async resume(name: string, options: QueueTarget = {}): Promise<Queue> {
    return queueFromPb((await this.caller.call(this.client, "resumeQueue", { name, tenant: options.tenant ?? "" }, true)).queue);
  }

  /**
   * Attempts ended per minute, by outcome, for the tenant or one of its queues: a bucket per
   * minute of the window, oldest first, the current minute last, empty minutes as zeros.
   * Replicas store their counts every few seconds (SPOOL_ACTIVITY_FLUSH_MS), so the current
   * minute lags by that much; counts are kept for 7 days.
   */
  async activity(options: ActivityQuery = {}): Promise<ActivityBucket[]> {
    const request = { tenant: options.tenant ?? "", queue: options.queue ?? "", minutes: options.minutes ?? 0 };
    const response = await this.caller.call(this.client, "getActivity", request, true);
    return response.buckets.map((bucket) => ({
      start: dateOf(bucket.start),
      succeeded: Number(bucket.succeeded),
      failed: Number(bucket.failed),
      retried: Number(bucket.retried),
      cancelled: Number(bucket.cancelled),
    }));
  }
}

function queueFromPb(queue: PbQueue | undefined): Queue {
  if (!queue) throw new SpoolError("internal", "response carries no queue", 13);
  return {
    name: queue.name,
    tenant: queue.tenant,
    paused: queue.paused,
    concurrencyLimit: queue.concurrencyLimit || undefined,
    keyConcurrencyLimit: queue.keyConcurrencyLimit || undefined,
    retentionMs: queue.retention ? msFromDuration(queue.retention) : 0,
    depth: {
      pending: Number(queue.depth?.pending ?? 0n),
      scheduled: Number(queue.depth?.scheduled ?? 0n),
      running: Number(queue.depth?.running ?? 0n),
    },
    oldestPendingAgeMs: queue.oldestPendingAge ? msFromDuration(queue.oldestPendingAge) : 0,
  };
}
