-- An attempt interrupted by a clean shutdown (outcome 'interrupted') no longer uses up an
-- attempt: recordAttempts gives the attempt number back, and the task is PENDING again
-- whatever attempts it had left (it was DROPPED when it had none, so every deploy dropped the
-- max_attempts = 1 tasks it caught running). It stays in failures, as type Shutdown. A cancel
-- requested meanwhile still wins. Attempts lost with their replica ('lost') still count.
CREATE OR REPLACE FUNCTION "spool"."next_state"(outcome text, cancel_requested boolean, attempt integer, max_attempts integer)
RETURNS "spool"."task_state"
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN outcome = 'succeeded' THEN 'succeeded'
    WHEN outcome = 'cancelled' OR cancel_requested THEN 'cancelled'
    WHEN outcome = 'interrupted' THEN 'pending'
    WHEN attempt < max_attempts THEN 'pending'
    WHEN outcome = 'lost' THEN 'dropped'
    ELSE 'failed'
  END::"spool"."task_state"
$$;
