CREATE TABLE "spool"."replicas" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"renewed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "replicas_expiry_after_renewal" CHECK ("spool"."replicas"."expires_at" > "spool"."replicas"."renewed_at")
);
--> statement-breakpoint
ALTER TABLE "spool"."tasks" ADD COLUMN "failures" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "spool"."tasks" ADD CONSTRAINT "tasks_failures_array" CHECK (jsonb_typeof("spool"."tasks"."failures") = 'array');