CREATE TABLE "spool"."task_activity" (
	"tenant" text NOT NULL,
	"queue" text NOT NULL,
	"minute" timestamp with time zone NOT NULL,
	"succeeded" bigint DEFAULT 0 NOT NULL,
	"failed" bigint DEFAULT 0 NOT NULL,
	"retried" bigint DEFAULT 0 NOT NULL,
	"cancelled" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "task_activity_tenant_queue_minute_pk" PRIMARY KEY("tenant","queue","minute"),
	CONSTRAINT "task_activity_whole_minute" CHECK ("spool"."task_activity"."minute" = date_trunc('minute', "spool"."task_activity"."minute")),
	CONSTRAINT "task_activity_counts" CHECK (least("spool"."task_activity"."succeeded", "spool"."task_activity"."failed", "spool"."task_activity"."retried", "spool"."task_activity"."cancelled") >= 0)
);
--> statement-breakpoint
CREATE INDEX "task_activity_tenant_minute_idx" ON "spool"."task_activity" USING btree ("tenant","minute");--> statement-breakpoint
CREATE INDEX "task_activity_minute_idx" ON "spool"."task_activity" USING btree ("minute");