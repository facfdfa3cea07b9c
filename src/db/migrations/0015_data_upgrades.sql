CREATE TABLE IF NOT EXISTS "data_upgrades" (
	"name" text PRIMARY KEY NOT NULL,
	"rows_changed" integer NOT NULL,
	"applied_at" timestamp with time zone DEFAULT now() NOT NULL
);
