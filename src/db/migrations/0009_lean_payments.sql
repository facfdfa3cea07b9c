-- A circuit-breaker outcome may carry the key of the call it records (payment, attempt, send): the
-- lean payment path records it from a local activity, which can run again after a worker crash, and
-- a second run must not count the same call twice.
ALTER TABLE "connection_outcomes" ADD COLUMN "call_key" text;--> statement-breakpoint
CREATE UNIQUE INDEX "connection_outcomes_call_key_idx" ON "connection_outcomes" USING btree ("connection_id","call_key");
