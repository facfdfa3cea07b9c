/**
 * Uploaded CSV files of ERP integrations (table erp_uploads and its chunks): written from a request
 * stream chunk by chunk, read back as a stream chunk by chunk, so memory stays constant both ways.
 */
import type { Readable } from 'node:stream';
import { and, asc, desc, eq, gt, notInArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { erpUploadChunks, erpUploads } from '../../db/tables/erp-uploads.js';
import { ErpConfigurationError } from '../../providers/erp/source.js';

/** Size of the stored chunks (request chunks are ~64 KB; fewer, larger rows are cheaper to write and read). */
const CHUNK_BYTES = 1024 * 1024;
/** Complete uploads kept per integration and entity (older ones may still be read by a running sync). */
const KEEP_UPLOADS = 3;

export class UploadTooLargeError extends Error {
  override readonly name = 'UploadTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`the file is larger than ${maxBytes} bytes`);
  }
}

export interface StoredUpload {
  id: string;
  size: number;
}

/**
 * Streams `body` into a new upload. Stops at `maxBytes` (the partial upload is deleted and
 * UploadTooLargeError thrown); only a complete upload is ever read by a sync.
 */
export async function storeUpload(
  db: Db,
  target: { tenantId: string; integrationId: string; entity: string; contentType: string },
  body: Readable,
  maxBytes: number,
): Promise<StoredUpload> {
  const id = newId('upl');
  await db.insert(erpUploads).values({ id, ...target });
  let size = 0;
  let seq = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Writes whole CHUNK_BYTES chunks (and, at the end, the rest). */
  const flush = async (end: boolean) => {
    while (pendingBytes >= CHUNK_BYTES || (end && pendingBytes > 0)) {
      const all = Buffer.concat(pending);
      const data = all.subarray(0, CHUNK_BYTES);
      await db.insert(erpUploadChunks).values({ uploadId: id, seq: seq++, data });
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
  await db.update(erpUploads).set({ size, status: 'complete' }).where(eq(erpUploads.id, id));
  const keep = db
    .select({ id: erpUploads.id })
    .from(erpUploads)
    .where(and(eq(erpUploads.integrationId, target.integrationId), eq(erpUploads.entity, target.entity), eq(erpUploads.status, 'complete')))
    .orderBy(desc(erpUploads.createdAt), desc(erpUploads.id))
    .limit(KEEP_UPLOADS);
  await db
    .delete(erpUploads)
    .where(and(eq(erpUploads.integrationId, target.integrationId), eq(erpUploads.entity, target.entity), eq(erpUploads.status, 'complete'), notInArray(erpUploads.id, keep)));
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
