CREATE SCHEMA "spool";
--> statement-breakpoint
CREATE TYPE "spool"."log_level" AS ENUM('debug', 'info', 'warn', 'error');--> statement-breakpoint
CREATE TYPE "spool"."task_state" AS ENUM('pending', 'running', 'succeeded', 'failed', 'cancelled', 'dropped');--> statement-breakpoint
CREATE TABLE "spool"."task_logs" (
	"task_id" uuid NOT NULL,
	"seq" bigint NOT NULL,
	"attempt" integer NOT NULL,
	"level" "spool"."log_level" NOT NULL,
	"message" text NOT NULL,
	"time" timestamp with time zone NOT NULL,
	CONSTRAINT "task_logs_task_id_seq_pk" PRIMARY KEY("task_id","seq"),
	CONSTRAINT "task_logs_seq_positive" CHECK ("spool"."task_logs"."seq" > 0)
);
--> statement-breakpoint
CREATE TABLE "spool"."tasks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"queue" text NOT NULL,
	"state" "spool"."task_state" DEFAULT 'pending' NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"input" jsonb,
	"result" jsonb,
	"error" jsonb,
	"attempt" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"timeout_ms" integer NOT NULL,
	"idempotency_key" text,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"cancel_requested" boolean DEFAULT false NOT NULL,
	"cancel_reason" text,
	"owner" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"run_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "tasks_finished_iff_terminal" CHECK (("spool"."tasks"."state" in ('succeeded', 'failed', 'cancelled', 'dropped')) = ("spool"."tasks"."finished_at" is not null)),
	CONSTRAINT "tasks_owner_iff_running" CHECK (("spool"."tasks"."state" = 'running') = ("spool"."tasks"."owner" is not null)),
	CONSTRAINT "tasks_running_started" CHECK ("spool"."tasks"."state" <> 'running' or "spool"."tasks"."started_at" is not null),
	CONSTRAINT "tasks_result_only_succeeded" CHECK ("spool"."tasks"."result" is null or "spool"."tasks"."state" = 'succeeded'),
	CONSTRAINT "tasks_attempts" CHECK ("spool"."tasks"."max_attempts" >= 1 and "spool"."tasks"."attempt" between 0 and "spool"."tasks"."max_attempts"),
	CONSTRAINT "tasks_timeout_positive" CHECK ("spool"."tasks"."timeout_ms" > 0),
	CONSTRAINT "tasks_labels_object" CHECK (jsonb_typeof("spool"."tasks"."labels") = 'object')
);
--> statement-breakpoint
CREATE INDEX "tasks_pending_claim_idx" ON "spool"."tasks" USING btree ("priority" DESC NULLS LAST,"run_at","id") WHERE "spool"."tasks"."state" = 'pending';--> statement-breakpoint
CREATE INDEX "tasks_pending_run_at_idx" ON "spool"."tasks" USING btree ("run_at") WHERE "spool"."tasks"."state" = 'pending';--> statement-breakpoint
CREATE INDEX "tasks_running_owner_idx" ON "spool"."tasks" USING btree ("owner") WHERE "spool"."tasks"."state" = 'running';--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_idempotency_key_idx" ON "spool"."tasks" USING btree ("idempotency_key") WHERE "spool"."tasks"."idempotency_key" is not null;--> statement-breakpoint
CREATE INDEX "tasks_state_id_idx" ON "spool"."tasks" USING btree ("state","id");--> statement-breakpoint
CREATE INDEX "tasks_kind_id_idx" ON "spool"."tasks" USING btree ("kind","id");--> statement-breakpoint
CREATE INDEX "tasks_labels_idx" ON "spool"."tasks" USING gin ("labels" jsonb_path_ops);