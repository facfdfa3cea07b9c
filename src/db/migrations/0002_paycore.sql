ALTER TABLE "payment_attempts" ADD COLUMN "reconciled_at" timestamp with time zone;
--> statement-breakpoint
CREATE INDEX "payment_attempts_unreconciled_idx" ON "payment_attempts" ("updated_at") WHERE "reconciled_at" IS NULL AND "status" IN ('failed', 'unknown');
