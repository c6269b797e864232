-- A handler that throws a NonRetryableError (@spool/sdk/task) ends its attempt with the
-- outcome 'failed_final': the task is FAILED at once, whatever attempts remain, where a plain
-- 'failed' retries while attempts remain. A cancel requested meanwhile still wins (CANCELLED),
-- as for every outcome but success.
CREATE OR REPLACE FUNCTION "spool"."next_state"(outcome text, cancel_requested boolean, attempt integer, max_attempts integer)
RETURNS "spool"."task_state"
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN outcome = 'succeeded' THEN 'succeeded'
    WHEN outcome = 'cancelled' OR cancel_requested THEN 'cancelled'
    WHEN outcome = 'interrupted' THEN 'pending'
    WHEN outcome = 'failed_final' THEN 'failed'
    WHEN attempt < max_attempts THEN 'pending'
    WHEN outcome = 'lost' THEN 'dropped'
    ELSE 'failed'
  END::"spool"."task_state"
$$;
