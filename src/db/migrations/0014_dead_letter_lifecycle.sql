ALTER TABLE "erp_dead_letters" ADD COLUMN "record_key" text;
--> statement-breakpoint
ALTER TABLE "erp_dead_letters" ADD COLUMN "closed_at" timestamp with time zone;
--> statement-breakpoint
ALTER TABLE "erp_dead_letters" ADD COLUMN "dismiss_reason" text;
--> statement-breakpoint
ALTER TABLE "erp_dead_letters" ADD COLUMN "resolved_by_run_id" text;
--> statement-breakpoint
CREATE INDEX "erp_dead_letters_open_key_idx" ON "erp_dead_letters" USING btree ("integration_id","entity","record_key") WHERE "status" = 'open' AND "record_key" IS NOT NULL;
