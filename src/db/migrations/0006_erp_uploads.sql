CREATE TABLE "erp_uploads" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL REFERENCES "tenants"("id") ON DELETE cascade,
	"integration_id" text NOT NULL REFERENCES "erp_integrations"("id") ON DELETE cascade,
	"entity" text NOT NULL,
	"content_type" text NOT NULL,
	"size" bigint DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'receiving' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "erp_uploads_latest_idx" ON "erp_uploads" USING btree ("integration_id","entity","status","created_at");
--> statement-breakpoint
CREATE TABLE "erp_upload_chunks" (
	"upload_id" text NOT NULL REFERENCES "erp_uploads"("id") ON DELETE cascade,
	"seq" integer NOT NULL,
	"data" bytea NOT NULL,
	CONSTRAINT "erp_upload_chunks_upload_id_seq_pk" PRIMARY KEY("upload_id","seq")
);
