DROP INDEX "spool"."tasks_state_id_idx";--> statement-breakpoint
DROP INDEX "spool"."tasks_kind_id_idx";--> statement-breakpoint
DROP INDEX "spool"."tasks_labels_idx";--> statement-breakpoint
CREATE INDEX "tasks_ended_state_idx" ON "spool"."tasks" USING btree ("state","id") WHERE "spool"."tasks"."state" in ('succeeded', 'failed', 'cancelled', 'dropped');--> statement-breakpoint
CREATE INDEX "tasks_ended_kind_idx" ON "spool"."tasks" USING btree ("kind","id") WHERE "spool"."tasks"."state" in ('succeeded', 'failed', 'cancelled', 'dropped');--> statement-breakpoint
CREATE INDEX "tasks_ended_labels_idx" ON "spool"."tasks" USING gin ("labels" jsonb_path_ops) WHERE "spool"."tasks"."state" in ('succeeded', 'failed', 'cancelled', 'dropped');