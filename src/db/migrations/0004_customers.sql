CREATE TABLE "customers" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"email" text,
	"name" text,
	"phone" text,
	"address" jsonb,
	"description" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"deleted_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "customers" ADD CONSTRAINT "customers_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "customers_tenant_updated_idx" ON "customers" USING btree ("tenant_id","updated_at","id");
--> statement-breakpoint
CREATE INDEX "customers_tenant_email_idx" ON "customers" USING btree ("tenant_id","email");
--> statement-breakpoint
CREATE TABLE "customer_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"version" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "customer_outbox_undelivered_idx" ON "customer_outbox" USING btree ("id") WHERE delivered_at is null;
--> statement-breakpoint
CREATE TABLE "sync_mappings" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"catalog" text NOT NULL,
	"local_id" text NOT NULL,
	"remote_system" text NOT NULL,
	"connection_id" text NOT NULL,
	"remote_id" text,
	"last_synced_version" integer DEFAULT 0 NOT NULL,
	"last_synced_snapshot" jsonb,
	"last_synced_at" timestamp with time zone,
	"remote_deleted" boolean DEFAULT false NOT NULL,
	"pending" jsonb,
	"state" text DEFAULT 'pending' NOT NULL,
	"failure_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sync_mappings" ADD CONSTRAINT "sync_mappings_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE UNIQUE INDEX "sync_mappings_connection_remote_uq" ON "sync_mappings" USING btree ("connection_id","remote_id");
--> statement-breakpoint
CREATE UNIQUE INDEX "sync_mappings_connection_catalog_local_uq" ON "sync_mappings" USING btree ("connection_id","catalog","local_id");
--> statement-breakpoint
CREATE INDEX "sync_mappings_local_idx" ON "sync_mappings" USING btree ("tenant_id","catalog","local_id");
--> statement-breakpoint
CREATE TABLE "sync_conflicts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"catalog" text NOT NULL,
	"local_id" text NOT NULL,
	"connection_id" text NOT NULL,
	"field" text NOT NULL,
	"base_value" jsonb,
	"local_value" jsonb,
	"remote_value" jsonb,
	"policy" text NOT NULL,
	"decision" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "sync_conflicts_local_idx" ON "sync_conflicts" USING btree ("tenant_id","catalog","local_id");
--> statement-breakpoint
CREATE TABLE "sync_cursors" (
	"connection_id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"cursor" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sync_cursors" ADD CONSTRAINT "sync_cursors_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;
