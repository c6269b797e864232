DROP INDEX "spool"."tasks_idempotency_key_idx";--> statement-breakpoint
ALTER TABLE "spool"."tasks" ADD COLUMN "tenant" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "spool"."tasks" ADD COLUMN "created_by" text DEFAULT 'anonymous' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_tenant_idempotency_key_idx" ON "spool"."tasks" USING btree ("tenant","idempotency_key") WHERE "spool"."tasks"."idempotency_key" is not null;--> statement-breakpoint
CREATE INDEX "tasks_ended_tenant_idx" ON "spool"."tasks" USING btree ("tenant","id") WHERE "spool"."tasks"."state" in ('succeeded', 'failed', 'cancelled', 'dropped');