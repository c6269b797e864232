// The spool.v1.QueueService handlers: list the queues of a tenant with their depth, change
// their settings (limits, retention, paused), and count what ended in them per minute
// (GetActivity). Every RPC needs the operator role; another tenant's queues need admin.
import type { UntypedHandleCall } from "@grpc/grpc-js";
import {
  durationFromMs,
  timestampFromDate,
  type ActivityBucket as PbActivityBucket,
  type Duration,
  type Queue as PbQueue,
  type QueueServiceServer,
} from "@spool/proto";
import type { Logger } from "pino";
import { tenantFor } from "../auth/access.js";
import type { Authenticator } from "../auth/authenticator.js";
import { holds, type Principal } from "../auth/principal.js";
import { activityLimits, type ActivityBucket } from "../domain/activity.js";
import type { QueueOperations } from "../domain/operations.js";
import { defaultRetentionMs, type Queue, type QueueChange } from "../domain/queue.js";
import { SpoolError } from "../errors.js";
import { limits as nameLimits } from "../auth/names.js";
import { keyOfPageToken, pageSizeFrom, pageTokenOf } from "./page-token.js";
import { unaryHandler } from "./unary-handler.js";
import { durationMsIn, tenantFieldFrom, validQueueName } from "./validate.js";

export const queueLimits = {
  pageSize: 1000,
  defaultPageSize: 100,
  maxConcurrency: 100_000,
  minRetentionMs: 60_000,
  maxRetentionMs: 10 * 366 * 24 * 3600_000,
} as const;

const invalid = SpoolError.invalidArgument;
/** Most characters of a page token: a scope, a tenant and a queue name as JSON in base64url. */
const maxPageTokenLength = 4 * (2 * nameLimits.tenantLength + 64) * 2;

export function queueService(ops: QueueOperations, log: Logger, auth: Authenticator): QueueServiceServer & Record<string, UntypedHandleCall> {
  const unary = <Req, Res>(method: string, handle: (request: Req, principal: Principal) => Promise<Res>) =>
    unaryHandler<Req, Res>(auth, log, "operator", method, handle);

  /** The queue named by a request, in the tenant it acts on. */
  const named = (principal: Principal, request: { name: string; tenant: string }) => ({
    tenant: tenantFor(principal, validTenant(request.tenant)),
    name: validName(request.name),
  });
  const changed = async (principal: Principal, request: { name: string; tenant: string }, change: QueueChange) => {
    const { tenant, name } = named(principal, request);
    return { queue: queueToPb(await ops.change(tenant, name, change)) };
  };

  return {
    listQueues: unary("ListQueues", async (request, principal) => {
      const requested = validTenant(request.tenant, true);
      const all = requested === "*";
      if (all && !holds(principal, "admin")) throw new SpoolError("permission_denied", `tenant: listing every tenant's queues needs the admin role`);
      const tenant = all ? undefined : tenantFor(principal, requested);
      const scope = tenant ?? "*";
      const limit = pageSizeFrom(request.pageSize, queueLimits.pageSize, queueLimits.defaultPageSize);
      const key = keyOfPageToken(request.pageToken, scope, 2, maxPageTokenLength);
      const queues = await ops.list(tenant, { limit, after: key && { tenant: key[0]!, name: key[1]! } });
      const last = queues.length === limit ? queues.at(-1) : undefined;
      return { queues: queues.map(queueToPb), nextPageToken: last ? pageTokenOf(scope, [last.tenant, last.name]) : "" };
    }),

    updateQueue: unary("UpdateQueue", async (request, principal) => {
      const change: QueueChange = {};
      if (request.concurrencyLimit !== undefined) change.concurrencyLimit = validLimit("concurrency_limit", request.concurrencyLimit);
      if (request.keyConcurrencyLimit !== undefined) {
        change.keyConcurrencyLimit = validLimit("key_concurrency_limit", request.keyConcurrencyLimit);
      }
      if (request.retention !== undefined) change.retentionMs = validRetention(request.retention);
      return changed(principal, request, change);
    }),

    pauseQueue: unary("PauseQueue", (request, principal) => changed(principal, request, { paused: true })),
    resumeQueue: unary("ResumeQueue", (request, principal) => changed(principal, request, { paused: false })),

    getActivity: unary("GetActivity", async (request, principal) => {
      const tenant = tenantFor(principal, validTenant(request.tenant));
      const queue = request.queue === "" ? undefined : validQueueName("queue", request.queue);
      const buckets = await ops.activity(tenant, queue, validMinutes(request.minutes));
      return { buckets: buckets.map(bucketToPb) };
    }),
  };
}

function validName(name: string): string {
  if (!name) throw invalid("name", "is required");
  return validQueueName("name", name);
}

function validTenant(tenant: string, allowAll = false): string {
  tenantFieldFrom(tenant);
  if (tenant === "*" && !allowAll) throw invalid("tenant", `"*" names every tenant, which only ListQueues takes`);
  return tenant;
}

/** 0 removes the limit (null). */
function validLimit(field: string, value: number): number | null {
  if (!Number.isInteger(value) || value < 0 || value > queueLimits.maxConcurrency) {
    throw invalid(field, `${value} is out of range 0..${queueLimits.maxConcurrency} (0 removes the limit)`);
  }
  return value === 0 ? null : value;
}

function validRetention(duration: Duration): number {
  return durationMsIn("retention", duration, queueLimits.minRetentionMs, queueLimits.maxRetentionMs, "must be from 1 minute to 10 years");
}

/** 0: the default window; else 1..activityLimits.maxMinutes. */
function validMinutes(minutes: number): number {
  if (minutes === 0) return activityLimits.defaultMinutes;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > activityLimits.maxMinutes) {
    throw invalid("minutes", `${minutes} is out of range 1..${activityLimits.maxMinutes} (0 means ${activityLimits.defaultMinutes})`);
  }
  return minutes;
}

function bucketToPb(bucket: ActivityBucket): PbActivityBucket {
  return {
    start: timestampFromDate(bucket.start),
    succeeded: BigInt(bucket.succeeded),
    failed: BigInt(bucket.failed),
    retried: BigInt(bucket.retried),
    cancelled: BigInt(bucket.cancelled),
  };
}

export function queueToPb(queue: Queue): PbQueue {
  return {
    name: queue.name,
    tenant: queue.tenant,
    paused: queue.paused,
    concurrencyLimit: queue.concurrencyLimit ?? 0,
    keyConcurrencyLimit: queue.keyConcurrencyLimit ?? 0,
    retention: durationFromMs(queue.retentionMs ?? defaultRetentionMs),
    depth: { pending: BigInt(queue.pending), scheduled: BigInt(queue.scheduled), running: BigInt(queue.running) },
    oldestPendingAge: durationFromMs(Math.max(0, Math.round(queue.oldestPendingAgeMs))),
  };
}
