CREATE TYPE "spool"."catch_up" AS ENUM('skip', 'once', 'all');--> statement-breakpoint
CREATE TABLE "spool"."queues" (
	"tenant" text NOT NULL,
	"name" text NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"concurrency_limit" integer,
	"key_concurrency_limit" integer,
	"retention_ms" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "queues_tenant_name_pk" PRIMARY KEY("tenant","name"),
	CONSTRAINT "queues_limits_positive" CHECK (coalesce("spool"."queues"."concurrency_limit", 1) > 0 and coalesce("spool"."queues"."key_concurrency_limit", 1) > 0),
	CONSTRAINT "queues_retention_positive" CHECK (coalesce("spool"."queues"."retention_ms", 1) > 0)
);
--> statement-breakpoint
CREATE TABLE "spool"."schedules" (
	"tenant" text NOT NULL,
	"name" text NOT NULL,
	"cron" text,
	"interval_ms" bigint,
	"time_zone" text DEFAULT 'UTC' NOT NULL,
	"task" jsonb NOT NULL,
	"catch_up" "spool"."catch_up" DEFAULT 'skip' NOT NULL,
	"catch_up_limit" integer DEFAULT 0 NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"next_run_at" timestamp with time zone,
	"last_run_at" timestamp with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "schedules_tenant_name_pk" PRIMARY KEY("tenant","name"),
	CONSTRAINT "schedules_cron_xor_interval" CHECK (("spool"."schedules"."cron" is null) <> ("spool"."schedules"."interval_ms" is null)),
	CONSTRAINT "schedules_interval_min" CHECK (coalesce("spool"."schedules"."interval_ms", 1000) >= 1000),
	CONSTRAINT "schedules_paused_no_next" CHECK (not "spool"."schedules"."paused" or "spool"."schedules"."next_run_at" is null)
);
--> statement-breakpoint
DROP INDEX "spool"."tasks_pending_claim_idx";--> statement-breakpoint
ALTER TABLE "spool"."tasks" ADD COLUMN "schedule" text;--> statement-breakpoint
ALTER TABLE "spool"."tasks" ADD COLUMN "scheduled_for" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "spool"."tasks" ADD COLUMN "concurrency_key" text;--> statement-breakpoint
ALTER TABLE "spool"."tasks" ADD COLUMN "retry_of" uuid;--> statement-breakpoint
ALTER TABLE "spool"."tasks" ADD COLUMN "backoff" jsonb;--> statement-breakpoint
CREATE INDEX "schedules_next_run_at_idx" ON "spool"."schedules" USING btree ("next_run_at") WHERE "spool"."schedules"."next_run_at" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_schedule_tick_idx" ON "spool"."tasks" USING btree ("tenant","schedule","scheduled_for") WHERE "spool"."tasks"."scheduled_for" is not null;--> statement-breakpoint
CREATE INDEX "tasks_ended_schedule_idx" ON "spool"."tasks" USING btree ("tenant","schedule","id") WHERE "spool"."tasks"."schedule" is not null and "spool"."tasks"."state" in ('succeeded', 'failed', 'cancelled', 'dropped');--> statement-breakpoint
CREATE INDEX "tasks_pending_claim_idx" ON "spool"."tasks" USING btree ("tenant","queue","priority" DESC NULLS LAST,"run_at","id") WHERE "spool"."tasks"."state" = 'pending';--> statement-breakpoint
-- Queues that already have tasks get their row, as a first task would have made it.
INSERT INTO "spool"."queues" ("tenant", "name") SELECT DISTINCT "tenant", "queue" FROM "spool"."tasks" ON CONFLICT DO NOTHING;
