-- Mark and sweep of remote deletes: the reconciliation run whose remote scan last listed the record,
-- and when a run's remote scan read the whole catalog (only then may unseen records be swept).
ALTER TABLE "sync_mappings" ADD COLUMN "remote_seen_run" text;--> statement-breakpoint
ALTER TABLE "customer_sync_runs" ADD COLUMN "remote_scan_completed_at" timestamp with time zone;--> statement-breakpoint
-- The sweep walks one connection's mappings in id order.
CREATE INDEX "sync_mappings_connection_id_idx" ON "sync_mappings" USING btree ("connection_id","id");
