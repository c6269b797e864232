-- The state a running task moves to when its attempt ends (see store/record-attempts.ts).
-- A SQL function so that the UPDATE that records outcomes decides from the row it locks
-- itself (re-read under EvalPlanQual if a CancelTask changed it meanwhile), with no separate
-- SELECT ... FOR UPDATE. It is STABLE, not IMMUTABLE, because casting to an enum reads the
-- catalog: Postgres only inlines a SQL function whose body is as immutable as declared.
CREATE FUNCTION "spool"."next_state"(outcome text, cancel_requested boolean, attempt integer, max_attempts integer)
RETURNS "spool"."task_state"
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN outcome = 'succeeded' THEN 'succeeded'
    WHEN outcome = 'cancelled' OR cancel_requested THEN 'cancelled'
    WHEN attempt < max_attempts THEN 'pending'
    WHEN outcome = 'interrupted' THEN 'dropped'
    ELSE 'failed'
  END::"spool"."task_state"
$$;
