// The select list that reads a tasks row as a domain Task (camelCase keys, as postgres.js
// returns them). Every raw statement that returns tasks aliases spool.tasks as `t`.
import { defaultBackoff } from "@spool/proto";

export const taskColumns = `t.id, t.kind, t.queue, t.state, t.priority, t.input, t.result, t.error,
  t.failures, t.progress, t.attempt, t.max_attempts as "maxAttempts", t.timeout_ms as "timeoutMs",
  t.idempotency_key as "idempotencyKey", t.labels, t.cancel_requested as "cancelRequested",
  t.tenant, t.created_by as "createdBy", t.schedule, t.scheduled_for as "scheduledFor",
  t.concurrency_key as "concurrencyKey", t.retry_of as "retryOf",
  nullif(split_part(t.traceparent, '-', 2), '') as "traceId",
  coalesce(t.backoff, '${JSON.stringify(defaultBackoff)}'::jsonb) as backoff,
  t.created_at as "createdAt", t.run_at as "runAt", t.started_at as "startedAt",
  t.finished_at as "finishedAt"`;
