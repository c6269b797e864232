-- Attempts lost with their replica's lease (store/leases.ts): outcome 'lost'. Like
-- 'interrupted' it ends a task with no attempt left DROPPED: the service, not the handler,
-- could not finish it.
CREATE OR REPLACE FUNCTION "spool"."next_state"(outcome text, cancel_requested boolean, attempt integer, max_attempts integer)
RETURNS "spool"."task_state"
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN outcome = 'succeeded' THEN 'succeeded'
    WHEN outcome = 'cancelled' OR cancel_requested THEN 'cancelled'
    WHEN attempt < max_attempts THEN 'pending'
    WHEN outcome IN ('interrupted', 'lost') THEN 'dropped'
    ELSE 'failed'
  END::"spool"."task_state"
$$;
--> statement-breakpoint
-- The wait before retrying after attempt number `attempt` failed: 1 s * 2^(attempt-1), at
-- most 1 h, with +-25% jitter so that tasks that failed together do not retry together.
CREATE FUNCTION "spool"."retry_delay"(attempt integer)
RETURNS interval
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
  SELECT least(3600, power(2, greatest(attempt, 1) - 1)) * (0.75 + random() * 0.5) * interval '1 second'
$$;
--> statement-breakpoint
-- One entry of tasks.failures: the attempt that ended without success and why.
CREATE FUNCTION "spool"."failure_entry"(attempt integer, error jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT jsonb_build_array(jsonb_build_object(
    'attempt', attempt, 'type', error->>'type', 'message', error->>'message', 'at', now()))
$$;
