ALTER TABLE "catalog_products" ADD COLUMN "source_changed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "catalog_prices" ADD COLUMN "source_changed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "catalog_inventory" ADD COLUMN "source_changed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "catalog_orders" ADD COLUMN "source_changed_at" timestamp with time zone;
