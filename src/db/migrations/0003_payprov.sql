ALTER TABLE "payment_attempts" ADD COLUMN "unified_code" text;
--> statement-breakpoint
CREATE TABLE "connection_outcomes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"connection_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"at" bigint NOT NULL,
	"ok" boolean NOT NULL
);
--> statement-breakpoint
ALTER TABLE "connection_outcomes" ADD CONSTRAINT "connection_outcomes_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "connection_outcomes_connection_at_idx" ON "connection_outcomes" USING btree ("connection_id","at");
