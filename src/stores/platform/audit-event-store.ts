import { and, desc, eq, gte, lt } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { auditEvents, type AuditChanges } from '../../db/schema.js';

/** Who made a change: a tenant's API key, or the deployment's admin token. */
export type AuditActor = { type: 'api_key'; id: string } | { type: 'admin' };

/** What an audit entry records; before/after are API presentations of the resource (never credentials). */
export interface AuditEntry {
  tenantId: string;
  actor: AuditActor;
  /** `<resource>.<verb>`, e.g. connection.updated */
  action: string;
  resourceType: string;
  resourceId: string;
  before?: object;
  after?: object;
}

/** The tenant and actor of a change, as the audit log records them. */
export type ChangedBy = Pick<AuditEntry, 'tenantId' | 'actor'>;

/** The tenant and actor of a change made with a tenant's API key: `recordAudit(tx, { ...byKey(tenant), ... })`. */
export function byKey(tenant: { id: string; apiKeyId: string }): ChangedBy {
  return { tenantId: tenant.id, actor: { type: 'api_key', id: tenant.apiKeyId } };
}

/** A transaction or the database: the entry belongs in the transaction of the change it records. */
export type AuditWriter = Pick<Db, 'insert'>;

/** Names whose string values are secrets wherever they appear (defense in depth behind the presenters). */
const SECRET_NAME = /secret|password|passphrase|token|api_?key|private/i;

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, typeof v === 'string' && SECRET_NAME.test(k) ? '[redacted]' : redact(v)]),
    );
  }
  return value;
}

function changedFields(before: object | undefined, after: object | undefined): string[] {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k])).sort();
}

/** Writes one audit entry; call it with the transaction that makes the change. */
export async function recordAudit(tx: AuditWriter, entry: AuditEntry): Promise<void> {
  const changes: AuditChanges = {
    ...(entry.before ? { before: redact(entry.before) } : {}),
    ...(entry.after ? { after: redact(entry.after) } : {}),
    fields: changedFields(entry.before, entry.after),
  };
  await tx.insert(auditEvents).values({
    id: newId('aud'),
    tenantId: entry.tenantId,
    actorType: entry.actor.type,
    actorId: entry.actor.type === 'api_key' ? entry.actor.id : null,
    action: entry.action,
    resourceType: entry.resourceType,
    resourceId: entry.resourceId,
    changes,
  });
}

export interface AuditQuery {
  resourceType?: string;
  resourceId?: string;
  since?: Date;
  /** Only entries older than this sequence number (the cursor of the previous page). */
  beforeSeq?: number;
  limit: number;
}

/** A tenant's audit entries, newest first, one page (plus one row to know whether more exist). */
export async function listAuditEvents(db: Db, tenantId: string, q: AuditQuery) {
  const rows = await db
    .select()
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.tenantId, tenantId),
        q.resourceType ? eq(auditEvents.resourceType, q.resourceType) : undefined,
        q.resourceId ? eq(auditEvents.resourceId, q.resourceId) : undefined,
        q.since ? gte(auditEvents.createdAt, q.since) : undefined,
        q.beforeSeq !== undefined ? lt(auditEvents.seq, q.beforeSeq) : undefined,
      ),
    )
    .orderBy(desc(auditEvents.seq))
    .limit(q.limit + 1);
  return { rows: rows.slice(0, q.limit), more: rows.length > q.limit };
}
