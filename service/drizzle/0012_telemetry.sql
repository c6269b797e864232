CREATE TABLE "spool"."cluster_stats" (
	"name" text PRIMARY KEY NOT NULL,
	"measured_at" timestamp with time zone NOT NULL,
	"body" jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "spool"."replicas" ADD COLUMN "view" jsonb DEFAULT '{}'::jsonb NOT NULL;