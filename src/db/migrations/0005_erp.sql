CREATE TABLE "erp_integrations" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL REFERENCES "tenants"("id") ON DELETE cascade,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"connector" jsonb NOT NULL,
	"credentials_ciphertext" text,
	"credentials_key_id" text,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"mappings" jsonb NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"paused_reason" text,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"circuit" jsonb,
	"watermarks" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "erp_integrations_tenant_idx" ON "erp_integrations" USING btree ("tenant_id");
--> statement-breakpoint
CREATE TABLE "erp_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL REFERENCES "tenants"("id") ON DELETE cascade,
	"integration_id" text NOT NULL REFERENCES "erp_integrations"("id") ON DELETE cascade,
	"entity" text NOT NULL,
	"mode" text NOT NULL,
	"trigger" text NOT NULL,
	"workflow_id" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"counts" jsonb NOT NULL,
	"checkpoint" jsonb NOT NULL,
	"since" jsonb,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "erp_runs_workflow_uq" ON "erp_runs" USING btree ("workflow_id");
--> statement-breakpoint
CREATE INDEX "erp_runs_integration_idx" ON "erp_runs" USING btree ("integration_id","started_at");
--> statement-breakpoint
CREATE TABLE "erp_dead_letters" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL REFERENCES "tenants"("id") ON DELETE cascade,
	"integration_id" text NOT NULL REFERENCES "erp_integrations"("id") ON DELETE cascade,
	"run_id" text NOT NULL,
	"entity" text NOT NULL,
	"raw" jsonb NOT NULL,
	"errors" jsonb NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"replayed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "erp_dead_letters_integration_idx" ON "erp_dead_letters" USING btree ("integration_id","status","created_at");
--> statement-breakpoint
CREATE TABLE "erp_webhook_events" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL REFERENCES "tenants"("id") ON DELETE cascade,
	"integration_id" text NOT NULL REFERENCES "erp_integrations"("id") ON DELETE cascade,
	"event_id" text NOT NULL,
	"entity" text NOT NULL,
	"payload" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "erp_webhook_events_event_uq" ON "erp_webhook_events" USING btree ("integration_id","event_id");
--> statement-breakpoint
CREATE TABLE "catalog_products" (
	"tenant_id" text NOT NULL REFERENCES "tenants"("id") ON DELETE cascade,
	"sku" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"active" boolean NOT NULL,
	"integration_id" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "catalog_products_tenant_id_sku_pk" PRIMARY KEY("tenant_id","sku")
);
--> statement-breakpoint
CREATE TABLE "catalog_prices" (
	"tenant_id" text NOT NULL REFERENCES "tenants"("id") ON DELETE cascade,
	"sku" text NOT NULL,
	"price_list" text NOT NULL,
	"currency" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"integration_id" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "catalog_prices_tenant_id_sku_price_list_currency_pk" PRIMARY KEY("tenant_id","sku","price_list","currency")
);
--> statement-breakpoint
CREATE TABLE "catalog_inventory" (
	"tenant_id" text NOT NULL REFERENCES "tenants"("id") ON DELETE cascade,
	"sku" text NOT NULL,
	"warehouse" text NOT NULL,
	"quantity" integer NOT NULL,
	"integration_id" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "catalog_inventory_tenant_id_sku_warehouse_pk" PRIMARY KEY("tenant_id","sku","warehouse")
);
--> statement-breakpoint
CREATE TABLE "catalog_orders" (
	"tenant_id" text NOT NULL REFERENCES "tenants"("id") ON DELETE cascade,
	"number" text NOT NULL,
	"status" text NOT NULL,
	"currency" text NOT NULL,
	"total_minor" bigint NOT NULL,
	"lines" jsonb NOT NULL,
	"ordered_at" timestamp with time zone,
	"integration_id" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "catalog_orders_tenant_id_number_pk" PRIMARY KEY("tenant_id","number")
);
