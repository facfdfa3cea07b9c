/**
 * Webhook endpoints: merchant URLs that receive the tenant's events. The signing secret (Standard
 * Webhooks: `whsec_` + base64 of 32 random bytes) is sealed at rest like connection credentials,
 * bound to the tenant and the endpoint, and handed out only at creation and at rotation. After a
 * rotation the previous secret stays valid for a grace period, during which deliveries carry both
 * signatures. Every change is audited in its own transaction; a disable records a
 * `webhook_endpoint.disabled` event in the same transaction.
 */
import { randomBytes } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { webhookEndpoints } from '../../db/schema.js';
import { sealedColumnConfig } from '../../db/tables/columns.js';
import { checkOutboundUrl, OutboundUrlError, type OutboundUrlPolicy } from '../../providers/url-policy.js';
import { patternProblem } from '../../domain/events/event-types.js';
import type { CredentialCipher } from '../../secrets/credential-cipher.js';
import { recordAudit, type ChangedBy } from '../platform/audit-event-store.js';
import { requireRoom, type TenantQuotas } from '../platform/quota-store.js';
import { recordEvent, type EventWriter, type PayloadStyle } from './event-store.js';

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Why an endpoint stopped receiving: the tenant said so, it answered 410 Gone, or it failed too long. */
export type DisabledReason = 'manual' | 'gone' | 'failing';

/** How long the previous secret stays valid after a rotation, unless the request says otherwise. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 24 * 3600;
export const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600;

/** An endpoint as the API shows it, the audit log records it and `webhook_endpoint.disabled` carries it: never a secret. */
export interface WebhookEndpointView {
  id: string;
  object: 'webhook_endpoint';
  url: string;
  description: string | null;
  eventTypes: string[];
  payloadStyle: PayloadStyle;
  enabled: boolean;
  disabledReason: DisabledReason | null;
  disabledAt: string | null;
  failingSince: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export function webhookEndpointView(row: WebhookEndpointRow): WebhookEndpointView {
  return {
    id: row.id,
    object: 'webhook_endpoint',
    url: row.url,
    description: row.description,
    eventTypes: row.eventTypes,
    payloadStyle: row.payloadStyle,
    enabled: row.enabled,
    disabledReason: row.disabledReason as DisabledReason | null,
    disabledAt: row.disabledAt?.toISOString() ?? null,
    failingSince: row.failingSince?.toISOString() ?? null,
    previousSecretExpiresAt: row.previousSecretExpiresAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The endpoint is not the tenant's (another tenant's is indistinguishable from a missing one). */
export class WebhookEndpointNotFoundError extends Error {
  override readonly name = 'WebhookEndpointNotFoundError';
  constructor(readonly endpointId: string) {
    super(`webhook endpoint ${endpointId} not found`);
  }
}

/** A field of an endpoint is refused; the message says why (never echoing credentials from a URL). */
export class WebhookEndpointInvalidError extends Error {
  override readonly name = 'WebhookEndpointInvalidError';
  constructor(
    readonly field: 'url' | 'eventTypes',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Throws WebhookEndpointInvalidError unless `url` may receive webhooks: the outbound URL policy every
 * tenant-supplied URL passes (no credentials in it, no denied or private hosts), and https, unless
 * the deployment allows private networks (local development, where receivers run on http://127.0.0.1).
 * Every delivery goes through the egress guard as well, which judges the addresses a name resolves to.
 */
export function checkWebhookUrl(url: string, policy: OutboundUrlPolicy): void {
  let parsed: URL;
  try {
    parsed = checkOutboundUrl(url, policy);
  } catch (err) {
    if (err instanceof OutboundUrlError) throw new WebhookEndpointInvalidError('url', err.message);
    throw err;
  }
  if (parsed.protocol !== 'https:' && !policy.allowPrivateNetworks) {
    throw new WebhookEndpointInvalidError('url', 'a webhook endpoint must use https (events carry customer and payment data)');
  }
  if (parsed.hash !== '') throw new WebhookEndpointInvalidError('url', 'a webhook endpoint URL has no #fragment (it is never sent)');
}

/**
 * Throws WebhookEndpointInvalidError unless `patterns` is a non-empty list of valid subscriptions
 * (exact types, `prefix.*`, `*`); resolves with them without repeats, in the order given.
 */
export function checkEventTypePatterns(patterns: readonly string[]): string[] {
  if (patterns.length === 0) throw new WebhookEndpointInvalidError('eventTypes', 'at least one event type or pattern is required');
  for (const pattern of patterns) {
    const problem = patternProblem(pattern);
    if (problem) throw new WebhookEndpointInvalidError('eventTypes', `event type pattern ${problem}`);
  }
  return [...new Set(patterns)];
}

/** A new signing secret in the Standard Webhooks format. */
export function newEndpointSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

const boundTo = {
  current: sealedColumnConfig(webhookEndpoints.secret)!.boundTo,
  previous: sealedColumnConfig(webhookEndpoints.previousSecret)!.boundTo,
};

function seal(cipher: CredentialCipher, tenantId: string, id: string, which: keyof typeof boundTo, secret: string) {
  return cipher.seal({ secret }, tenantId, boundTo[which](id));
}

/**
 * The secrets deliveries are signed with: the current one, and the previous one while its grace
 * period runs (Standard Webhooks: one signature per secret, the receiver accepts either).
 */
export function openEndpointSecrets(
  deps: { cipher: CredentialCipher },
  row: WebhookEndpointRow,
  now: Date = new Date(),
): { current: string; previous?: string } {
  const open = (ciphertext: Buffer, keyId: string, which: keyof typeof boundTo) =>
    deps.cipher.open({ ciphertext, keyId }, row.tenantId, boundTo[which](row.id)).secret!;
  const current = open(row.secret, row.secretKeyId, 'current');
  const previousValid =
    row.previousSecret && row.previousSecretKeyId && row.previousSecretExpiresAt && row.previousSecretExpiresAt.getTime() > now.getTime();
  return previousValid ? { current, previous: open(row.previousSecret!, row.previousSecretKeyId!, 'previous') } : { current };
}

/** The tenant's endpoint, or undefined. */
export async function findWebhookEndpoint(db: Pick<Db, 'select'>, tenantId: string, id: string): Promise<WebhookEndpointRow | undefined> {
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.tenantId, tenantId)));
  return row;
}

/** The tenant's endpoints, oldest first (a tenant has at most its quota of them). */
export async function listWebhookEndpoints(db: Db, tenantId: string, filter: { enabled?: boolean } = {}): Promise<WebhookEndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.tenantId, tenantId), filter.enabled === undefined ? undefined : eq(webhookEndpoints.enabled, filter.enabled)))
    .orderBy(asc(webhookEndpoints.createdAt), asc(webhookEndpoints.id));
}

export interface NewWebhookEndpoint {
  url: string;
  /** Exact types, `prefix.*` or `*` (checked with {@link checkEventTypePatterns}). */
  eventTypes: string[];
  description?: string | null;
  payloadStyle?: PayloadStyle;
  enabled?: boolean;
}

/**
 * Creates an endpoint with a new secret, within the tenant's quota (QuotaExceededError); resolves
 * with the row and the secret, which is shown this once.
 */
export async function createWebhookEndpoint(
  db: Db,
  deps: { cipher: CredentialCipher; urlPolicy: OutboundUrlPolicy; quotas: TenantQuotas },
  by: ChangedBy,
  input: NewWebhookEndpoint,
): Promise<{ row: WebhookEndpointRow; secret: string }> {
  checkWebhookUrl(input.url, deps.urlPolicy);
  const eventTypes = checkEventTypePatterns(input.eventTypes);
  const id = newId('we');
  const secret = newEndpointSecret();
  const sealed = seal(deps.cipher, by.tenantId, id, 'current', secret);
  const enabled = input.enabled ?? true;
  const row = await db.transaction(async (tx) => {
    await requireRoom(tx, deps.quotas, by.tenantId, 'webhook_endpoints');
    const [created] = await tx
      .insert(webhookEndpoints)
      .values({
        id,
        tenantId: by.tenantId,
        url: input.url,
        description: input.description ?? null,
        eventTypes,
        payloadStyle: input.payloadStyle ?? 'full',
        enabled,
        ...(enabled ? {} : { disabledReason: 'manual', disabledAt: new Date() }),
        secret: sealed.ciphertext,
        secretKeyId: sealed.keyId,
      })
      .returning();
    await recordAudit(tx, { ...by, action: 'webhook_endpoint.created', resourceType: 'webhook_endpoint', resourceId: id, after: webhookEndpointView(created!) });
    return created!;
  });
  return { row, secret };
}

/** A change to an endpoint: absent fields stay; `description: null` clears it. */
export interface WebhookEndpointChange {
  url?: string;
  eventTypes?: string[];
  description?: string | null;
  payloadStyle?: PayloadStyle;
  enabled?: boolean;
}

async function lockEndpoint(tx: Tx, tenantId: string, id: string): Promise<WebhookEndpointRow> {
  const [locked] = await tx
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.tenantId, tenantId)))
    .for('update');
  if (!locked) throw new WebhookEndpointNotFoundError(id);
  return locked;
}

/**
 * Changes an endpoint. Re-enabling one clears why and since when it was disabled and its failure
 * clock (it starts again with a clean record); disabling one records `webhook_endpoint.disabled`
 * with reason `manual`.
 */
export async function updateWebhookEndpoint(
  db: Db,
  deps: { urlPolicy: OutboundUrlPolicy },
  by: ChangedBy,
  id: string,
  change: WebhookEndpointChange,
): Promise<{ before: WebhookEndpointRow; after: WebhookEndpointRow }> {
  if (change.url !== undefined) checkWebhookUrl(change.url, deps.urlPolicy);
  const eventTypes = change.eventTypes === undefined ? undefined : checkEventTypePatterns(change.eventTypes);
  return db.transaction(async (tx) => {
    const before = await lockEndpoint(tx, by.tenantId, id);
    const enabling = change.enabled === true && !before.enabled;
    const disabling = change.enabled === false && before.enabled;
    const now = new Date();
    const [after] = await tx
      .update(webhookEndpoints)
      .set({
        ...(change.url !== undefined ? { url: change.url } : {}),
        ...(eventTypes !== undefined ? { eventTypes } : {}),
        ...(change.description !== undefined ? { description: change.description } : {}),
        ...(change.payloadStyle !== undefined ? { payloadStyle: change.payloadStyle } : {}),
        ...(enabling ? { enabled: true, disabledReason: null, disabledAt: null, failingSince: null } : {}),
        ...(disabling ? { enabled: false, disabledReason: 'manual', disabledAt: now } : {}),
        updatedAt: now,
      })
      .where(eq(webhookEndpoints.id, id))
      .returning();
    await recordAudit(tx, {
      ...by,
      action: 'webhook_endpoint.updated',
      resourceType: 'webhook_endpoint',
      resourceId: id,
      before: webhookEndpointView(before),
      after: webhookEndpointView(after!),
    });
    if (disabling) await recordDisabled(tx, after!);
    return { before, after: after! };
  });
}

/** Deletes an endpoint (its deliveries and their attempts with it) and returns the row it was. */
export async function deleteWebhookEndpoint(db: Db, by: ChangedBy, id: string): Promise<WebhookEndpointRow> {
  return db.transaction(async (tx) => {
    const [deleted] = await tx
      .delete(webhookEndpoints)
      .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.tenantId, by.tenantId)))
      .returning();
    if (!deleted) throw new WebhookEndpointNotFoundError(id);
    await recordAudit(tx, { ...by, action: 'webhook_endpoint.deleted', resourceType: 'webhook_endpoint', resourceId: id, before: webhookEndpointView(deleted) });
    return deleted;
  });
}

/**
 * Replaces the signing secret: the current one becomes the previous one, valid for `graceSeconds`
 * more (0: at once invalid), and a new one is made and returned (shown this once). A previous secret
 * still in its grace period is dropped: at most two secrets are ever valid.
 */
export async function rotateWebhookEndpointSecret(
  db: Db,
  deps: { cipher: CredentialCipher },
  by: ChangedBy,
  id: string,
  graceSeconds: number = DEFAULT_ROTATION_GRACE_SECONDS,
): Promise<{ row: WebhookEndpointRow; secret: string }> {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_ROTATION_GRACE_SECONDS) {
    throw new RangeError(`graceSeconds must be a whole number from 0 to ${MAX_ROTATION_GRACE_SECONDS}, got ${graceSeconds}`);
  }
  const secret = newEndpointSecret();
  return db.transaction(async (tx) => {
    const before = await lockEndpoint(tx, by.tenantId, id);
    const { current } = openEndpointSecrets(deps, before);
    const sealed = seal(deps.cipher, by.tenantId, id, 'current', secret);
    const previous = graceSeconds > 0 ? seal(deps.cipher, by.tenantId, id, 'previous', current) : undefined;
    const now = new Date();
    const [after] = await tx
      .update(webhookEndpoints)
      .set({
        secret: sealed.ciphertext,
        secretKeyId: sealed.keyId,
        previousSecret: previous?.ciphertext ?? null,
        previousSecretKeyId: previous?.keyId ?? null,
        previousSecretExpiresAt: previous ? new Date(now.getTime() + graceSeconds * 1000) : null,
        updatedAt: now,
      })
      .where(eq(webhookEndpoints.id, id))
      .returning();
    await recordAudit(tx, {
      ...by,
      action: 'webhook_endpoint.secret_rotated',
      resourceType: 'webhook_endpoint',
      resourceId: id,
      before: webhookEndpointView(before),
      after: webhookEndpointView(after!),
    });
    return { row: after!, secret };
  });
}

async function recordDisabled(tx: EventWriter, row: WebhookEndpointRow): Promise<void> {
  await recordEvent(tx, {
    tenantId: row.tenantId,
    type: 'webhook_endpoint.disabled',
    resource: { type: 'webhook_endpoint', id: row.id },
    data: { ...webhookEndpointView(row) },
  });
}

/**
 * Disables an enabled endpoint for `reason` in the caller's transaction (the delivery side: `gone`
 * after a 410, `failing` after failing too long) and records `webhook_endpoint.disabled`. Resolves
 * with the disabled row, or undefined when it was already disabled or no longer exists (nothing is
 * recorded twice).
 */
export async function disableWebhookEndpoint(
  tx: Tx,
  endpoint: { tenantId: string; id: string },
  reason: DisabledReason,
  now: Date = new Date(),
): Promise<WebhookEndpointRow | undefined> {
  const [row] = await tx
    .update(webhookEndpoints)
    .set({ enabled: false, disabledReason: reason, disabledAt: now, updatedAt: now })
    .where(and(eq(webhookEndpoints.id, endpoint.id), eq(webhookEndpoints.tenantId, endpoint.tenantId), eq(webhookEndpoints.enabled, true)))
    .returning();
  if (row) await recordDisabled(tx, row);
  return row;
}
