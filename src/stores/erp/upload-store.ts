/**
 * Uploaded CSV files of ERP integrations (table erp_uploads and its chunks): written from a request
 * stream chunk by chunk, read back as a stream chunk by chunk, so memory stays constant both ways.
 * Each tenant keeps at most its quota of bytes and receives at most its quota of uploads at once
 * (docs/tenancy.md#quotas), checked under the tenant's quota lock, so concurrent uploads cannot overrun it.
 */
import type { Readable } from 'node:stream';
import { and, asc, desc, eq, gt, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { lockTenantQuotas, QuotaExceededError, type Queryable } from '../platform/quota-store.js';
import { erpUploadChunks, erpUploads } from '../../db/tables/erp-uploads.js';
import { ErpConfigurationError } from '../../providers/erp/source.js';

/** Size of the stored chunks (request chunks are ~64 KB; fewer, larger rows are cheaper to write and read). */
const CHUNK_BYTES = 1024 * 1024;
/** Complete uploads kept per integration and entity (older ones may still be read by a running sync). */
const KEEP_UPLOADS = 3;
/**
 * An upload still receiving after this long belongs to a process that died mid-request (Node's HTTP
 * server ends a request after 5 minutes): it no longer counts and is deleted at the tenant's next upload.
 */
const ABANDONED_AFTER_MINUTES = 15;

export class UploadTooLargeError extends Error {
  override readonly name = 'UploadTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`the file is larger than ${maxBytes} bytes`);
  }
}

/** What a tenant may keep and receive at once. */
export interface UploadQuota {
  /** Bytes of uploads kept (complete and receiving). */
  maxBytes: number;
  /** Uploads received at the same time. */
  maxConcurrent: number;
}

/** An upload refused by the tenant's upload_bytes quota: `used` bytes kept of `limit`. */
const bytesRefused = (limit: number, used: number) =>
  new QuotaExceededError('upload_bytes', limit, used, 'the file does not fit (a new version of a kept file replaces its older versions; deleting an integration frees its files)');
/** An upload refused by the tenant's concurrent_uploads quota: `used` uploads receiving of `limit`. */
const concurrencyRefused = (limit: number, used: number) =>
  new QuotaExceededError('concurrent_uploads', limit, used, 'retry when one of the uploads in progress has finished');

export interface StoredUpload {
  id: string;
  size: number;
}

export interface UploadTarget {
  tenantId: string;
  integrationId: string;
  entity: string;
  contentType: string;
}

const live = sql`${erpUploads.createdAt} > now() - ${ABANDONED_AFTER_MINUTES}::int * interval '1 minute'`;

/** Bytes the tenant keeps (complete uploads and those receiving) and how many uploads it is receiving. */
export async function uploadUsage(db: Queryable, tenantId: string): Promise<{ bytes: number; receiving: number }> {
  const [row] = await db
    .select({
      bytes: sql<number>`coalesce(sum(${erpUploads.size}), 0)`.mapWith(Number),
      receiving: sql<number>`count(*) filter (where ${erpUploads.status} = 'receiving')`.mapWith(Number),
    })
    .from(erpUploads)
    .where(and(eq(erpUploads.tenantId, tenantId), or(eq(erpUploads.status, 'complete'), live)));
  return { bytes: row?.bytes ?? 0, receiving: row?.receiving ?? 0 };
}

/** Complete uploads of the target's integration and entity, newest first. */
function completeOf(db: Queryable, target: Pick<UploadTarget, 'integrationId' | 'entity'>) {
  return db
    .select({ id: erpUploads.id, size: erpUploads.size })
    .from(erpUploads)
    .where(and(eq(erpUploads.integrationId, target.integrationId), eq(erpUploads.entity, target.entity), eq(erpUploads.status, 'complete')))
    .orderBy(desc(erpUploads.createdAt), desc(erpUploads.id));
}

/**
 * Bytes the tenant keeps once a new upload of the target has replaced what it may replace: every
 * older upload of the same integration and entity but the newest (which a running sync may be reading)
 * makes room for it, so a tenant at its quota can always upload a new version of a file.
 */
async function keptBeside(db: Queryable, target: UploadTarget): Promise<number> {
  const [usage, own] = await Promise.all([uploadUsage(db, target.tenantId), completeOf(db, target)]);
  return usage.bytes - own.slice(1).reduce((sum, u) => sum + u.size, 0);
}

/**
 * Streams `body` into a new upload. Stops at `maxBytes` (UploadTooLargeError) or when the next chunk
 * would take the tenant past its quota (QuotaExceededError); the partial upload is then deleted, so only
 * a complete upload is ever read by a sync. `declaredBytes` (Content-Length) lets an upload that cannot
 * fit be refused before its body is read.
 */
export async function storeUpload(
  db: Db,
  target: UploadTarget,
  body: Readable,
  maxBytes: number,
  quota: UploadQuota = { maxBytes: Number.POSITIVE_INFINITY, maxConcurrent: Number.POSITIVE_INFINITY },
  declaredBytes = 0,
): Promise<StoredUpload> {
  const id = newId('upl');
  await db.transaction(async (tx) => {
    await lockTenantQuotas(tx, target.tenantId);
    await tx.delete(erpUploads).where(and(eq(erpUploads.tenantId, target.tenantId), eq(erpUploads.status, 'receiving'), sql`not (${live})`));
    const { receiving } = await uploadUsage(tx, target.tenantId);
    if (receiving >= quota.maxConcurrent) throw concurrencyRefused(quota.maxConcurrent, receiving);
    const kept = await keptBeside(tx, target);
    if (kept + Math.max(declaredBytes, 1) > quota.maxBytes) throw bytesRefused(quota.maxBytes, kept);
    await tx.insert(erpUploads).values({ id, ...target });
  });
  let size = 0;
  let seq = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Writes whole CHUNK_BYTES chunks (and, at the end, the rest), each only if it fits the quota. */
  const flush = async (end: boolean) => {
    while (pendingBytes >= CHUNK_BYTES || (end && pendingBytes > 0)) {
      const all = Buffer.concat(pending);
      const data = all.subarray(0, CHUNK_BYTES);
      await db.transaction(async (tx) => {
        await lockTenantQuotas(tx, target.tenantId);
        const kept = await keptBeside(tx, target);
        if (kept + data.length > quota.maxBytes) throw bytesRefused(quota.maxBytes, kept);
        await tx.insert(erpUploadChunks).values({ uploadId: id, seq: seq++, data });
        await tx.update(erpUploads).set({ size: sql`${erpUploads.size} + ${data.length}` }).where(eq(erpUploads.id, id));
      });
      pending = all.length > data.length ? [all.subarray(data.length)] : [];
      pendingBytes = all.length - data.length;
    }
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw new UploadTooLargeError(maxBytes);
      pending.push(chunk);
      pendingBytes += chunk.length;
      await flush(false);
    }
    await flush(true);
  } catch (err) {
    await db.delete(erpUploads).where(eq(erpUploads.id, id));
    throw err;
  }
  await db.transaction(async (tx) => {
    await lockTenantQuotas(tx, target.tenantId);
    await tx.update(erpUploads).set({ status: 'complete' }).where(eq(erpUploads.id, id));
    // Keep the newest KEEP_UPLOADS; older ones past the newest two also go while the tenant is over its quota.
    const own = await completeOf(tx, target);
    let over = (await uploadUsage(tx, target.tenantId)).bytes - quota.maxBytes;
    const drop: string[] = [];
    for (let i = own.length - 1; i >= 2; i--) {
      if (i < KEEP_UPLOADS && over <= 0) break;
      drop.push(own[i]!.id);
      over -= own[i]!.size;
    }
    if (drop.length > 0) await tx.delete(erpUploads).where(inArray(erpUploads.id, drop));
  });
  return { id, size };
}

/** The newest complete upload of an integration's entity, or null. */
export async function latestUpload(db: Db, integrationId: string, entity: string): Promise<string | null> {
  const [row] = await db
    .select({ id: erpUploads.id })
    .from(erpUploads)
    .where(and(eq(erpUploads.integrationId, integrationId), eq(erpUploads.entity, entity), eq(erpUploads.status, 'complete')))
    .orderBy(desc(erpUploads.createdAt), desc(erpUploads.id))
    .limit(1);
  return row?.id ?? null;
}

/** The bytes of an upload of `integrationId` from byte `fromByte` on, one stored chunk at a time. */
export async function* readUpload(db: Db, integrationId: string, uploadId: string, fromByte = 0): AsyncIterable<Buffer> {
  const [upload] = await db
    .select({ id: erpUploads.id })
    .from(erpUploads)
    .where(and(eq(erpUploads.id, uploadId), eq(erpUploads.integrationId, integrationId), eq(erpUploads.status, 'complete')));
  if (!upload) throw new UploadGoneError(uploadId);
  let seq = -1;
  let cut = 0;
  if (fromByte > 0) {
    // Chunk sizes are read, not assumed: find the chunk holding `fromByte` and where in it to start.
    const sizes = await db
      .select({ seq: erpUploadChunks.seq, size: sql<number>`octet_length(${erpUploadChunks.data})`.mapWith(Number) })
      .from(erpUploadChunks)
      .where(eq(erpUploadChunks.uploadId, uploadId))
      .orderBy(asc(erpUploadChunks.seq));
    let before = 0;
    seq = sizes.at(-1)?.seq ?? -1; // at or past the end: nothing left to read
    for (const chunk of sizes) {
      if (before + chunk.size > fromByte) {
        seq = chunk.seq - 1;
        cut = fromByte - before;
        break;
      }
      before += chunk.size;
    }
  }
  for (;;) {
    const [chunk] = await db
      .select({ seq: erpUploadChunks.seq, data: erpUploadChunks.data })
      .from(erpUploadChunks)
      .where(and(eq(erpUploadChunks.uploadId, uploadId), gt(erpUploadChunks.seq, seq)))
      .orderBy(asc(erpUploadChunks.seq))
      .limit(1);
    if (!chunk) {
      // Chunks of a deleted upload vanish with it: check it is still there, so a cut file is never read as whole.
      const [still] = await db.select({ id: erpUploads.id }).from(erpUploads).where(eq(erpUploads.id, uploadId));
      if (!still) throw new UploadGoneError(uploadId);
      return;
    }
    seq = chunk.seq;
    yield cut > 0 ? chunk.data.subarray(cut) : chunk.data;
    cut = 0;
  }
}

/** The upload a run was reading was replaced (only the newest few are kept) or deleted: fix by uploading again. */
export class UploadGoneError extends ErpConfigurationError {
  constructor(uploadId: string) {
    super(`uploaded file ${uploadId} no longer exists; upload the file again and start a new run`);
  }
}
