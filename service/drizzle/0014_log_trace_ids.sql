ALTER TABLE "spool"."task_logs" ADD COLUMN "trace_id" text;--> statement-breakpoint
ALTER TABLE "spool"."task_logs" ADD COLUMN "span_id" text;