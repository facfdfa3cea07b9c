-- Payments per status and connection for the switchyard_payments gauge, maintained by triggers
-- (see src/db/tables/payment-counts.ts). One transaction with the backfill: CREATE TRIGGER locks
-- payments against writes until the commit, so no change falls between the trigger and the count.
CREATE TABLE "payment_status_counts" (
	"status" text NOT NULL,
	"connection_id" text DEFAULT '' NOT NULL,
	"shard" smallint NOT NULL,
	"n" bigint NOT NULL,
	CONSTRAINT "payment_status_counts_pk" PRIMARY KEY("status","connection_id","shard")
);
--> statement-breakpoint
CREATE FUNCTION "payment_status_counts_apply"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' THEN
		INSERT INTO payment_status_counts AS c (status, connection_id, shard, n)
		VALUES (OLD.status, coalesce(OLD.connection_id, ''), hashtext(OLD.id) & 7, -1)
		ON CONFLICT (status, connection_id, shard) DO UPDATE SET n = c.n - 1;
	END IF;
	IF TG_OP <> 'DELETE' THEN
		INSERT INTO payment_status_counts AS c (status, connection_id, shard, n)
		VALUES (NEW.status, coalesce(NEW.connection_id, ''), hashtext(NEW.id) & 7, 1)
		ON CONFLICT (status, connection_id, shard) DO UPDATE SET n = c.n + 1;
	END IF;
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "payments_count_insert_delete" AFTER INSERT OR DELETE ON "payments"
	FOR EACH ROW EXECUTE FUNCTION "payment_status_counts_apply"();
--> statement-breakpoint
CREATE TRIGGER "payments_count_update" AFTER UPDATE OF "status", "connection_id" ON "payments"
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.connection_id IS DISTINCT FROM NEW.connection_id)
	EXECUTE FUNCTION "payment_status_counts_apply"();
--> statement-breakpoint
INSERT INTO "payment_status_counts" ("status", "connection_id", "shard", "n")
	SELECT "status", coalesce("connection_id", ''), hashtext("id") & 7, count(*) FROM "payments" GROUP BY 1, 2, 3;
