-- The wait before retrying after attempt number `attempt` failed, by the task's own backoff
-- (tasks.backoff: {baseMs, factor, maxMs, jitter}, resolved at creation; NULL, or a missing
-- field, means the default: base 1 s, factor 2, max 1 h, jitter 0.25):
--   least(max, base * factor^(attempt-1)) * (1 - jitter + random() * 2 * jitter)
-- The same formula as backoffDelayMs in @spool/proto (proto/backoff.ts), which every retry
-- written in TypeScript waits by: keep the two alike. The exponent stops at 200, which no
-- task reaches (max_attempts is at most 100), so that factor^exponent stays a float8
-- (10^200 * 24 h in ms is far below its limit; an overflow would be an error, not infinity).
CREATE FUNCTION "spool"."retry_delay"(attempt integer, backoff jsonb)
RETURNS interval
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
  SELECT least(
      coalesce((backoff->>'maxMs')::float8, 3600000),
      coalesce((backoff->>'baseMs')::float8, 1000)
        * power(coalesce((backoff->>'factor')::float8, 2), least(greatest(attempt, 1) - 1, 200))
    )
    * (1 - coalesce((backoff->>'jitter')::float8, 0.25) + random() * 2 * coalesce((backoff->>'jitter')::float8, 0.25))
    * interval '1 millisecond'
$$;
--> statement-breakpoint
-- The one-argument form (migration 0004) stays for replicas of the previous version, which
-- call it until a rolling deploy has replaced them all; it is now the default backoff of the
-- form above, so the formula is written once. A later migration may drop it.
CREATE OR REPLACE FUNCTION "spool"."retry_delay"(attempt integer)
RETURNS interval
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
  SELECT "spool"."retry_delay"(attempt, NULL::jsonb)
$$;
