/** POST/GET/PATCH/DELETE /v1/webhook-endpoints[/:id] and POST /v1/webhook-endpoints/:id/rotate-secret. */
import { z } from 'zod';
import { patternProblem } from '../../../domain/events/event-types.js';
import { byKey } from '../../../stores/platform/audit-event-store.js';
import { DEFAULT_TENANT_QUOTAS, QuotaExceededError } from '../../../stores/platform/quota-store.js';
import {
  createWebhookEndpoint,
  DEFAULT_ROTATION_GRACE_SECONDS,
  deleteWebhookEndpoint,
  findWebhookEndpoint,
  listWebhookEndpoints,
  MAX_ROTATION_GRACE_SECONDS,
  rotateWebhookEndpointSecret,
  updateWebhookEndpoint,
  WebhookEndpointInvalidError,
  WebhookEndpointNotFoundError,
  webhookEndpointView,
} from '../../../stores/events/webhook-endpoint-store.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { ApiError } from '../../errors.js';
import { quotaRefusal } from '../../quota-refusals.js';

const AT = '2026-12-07T10:15:30.000Z';
const ENDPOINT_EXAMPLE = {
  id: 'we_6m2k9q4x7v1t8n3p5r0w',
  object: 'webhook_endpoint',
  url: 'https://shop.example.com/webhooks/switchyard',
  description: 'Order service',
  eventTypes: ['payment.*', 'refund.succeeded'],
  payloadStyle: 'full',
  enabled: true,
  disabledReason: null,
  disabledAt: null,
  failingSince: null,
  previousSecretExpiresAt: null,
  createdAt: AT,
  updatedAt: AT,
} as const;
const SECRET_EXAMPLE = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw6Zg2Lh5ztCU=';

const eventTypePattern = z
  .string()
  .superRefine((pattern, ctx) => {
    const problem = patternProblem(pattern);
    if (problem) ctx.addIssue({ code: 'custom', message: `event type pattern ${problem}` });
  })
  .meta({ description: 'An event type (`payment.succeeded`), a prefix of whole segments with `.*` (`payment.*`, `erp.run.*`), or `*` for every type' });
const fields = {
  url: z
    .string()
    .trim()
    .min(1)
    .max(2048)
    .meta({ description: 'Where events are POSTed: https, a public address (checked again at every delivery)' }),
  eventTypes: z.array(eventTypePattern).min(1).max(50),
  description: z.string().trim().max(500).nullable(),
  payloadStyle: z.enum(['full', 'thin']).meta({ description: "`full`: the resource's state in `data`; `thin`: the event without `data` (fetch the resource)" }),
  enabled: z.boolean(),
};
const createBody = z
  .strictObject({
    url: fields.url,
    eventTypes: fields.eventTypes,
    description: fields.description.optional(),
    payloadStyle: fields.payloadStyle.default('full'),
    enabled: fields.enabled.default(true),
  })
  .meta({ examples: [{ url: ENDPOINT_EXAMPLE.url, eventTypes: [...ENDPOINT_EXAMPLE.eventTypes], description: ENDPOINT_EXAMPLE.description }] });
const patchBody = z
  .strictObject({
    url: fields.url.optional(),
    eventTypes: fields.eventTypes.optional(),
    description: fields.description.optional(),
    payloadStyle: fields.payloadStyle.optional(),
    enabled: fields.enabled.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'at least one field to change is required')
  .meta({ examples: [{ enabled: true }, { eventTypes: ['*'], description: null }] });
const rotateBody = z
  .strictObject({
    graceSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_ROTATION_GRACE_SECONDS)
      .default(DEFAULT_ROTATION_GRACE_SECONDS)
      .meta({ description: 'How long the old secret still signs deliveries (both signatures are sent); 0 drops it at once. Default 86400 (24 h), at most 7 days.' }),
  })
  .meta({ examples: [{ graceSeconds: 3600 }] });
const idParams = z.object({ id: z.string().min(1).max(64) });

export const webhookEndpointOut = z
  .object({
    id: z.string(),
    object: z.literal('webhook_endpoint'),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()),
    payloadStyle: z.enum(['full', 'thin']),
    enabled: z.boolean(),
    disabledReason: z
      .enum(['manual', 'gone', 'failing'])
      .nullable()
      .meta({ description: '`manual`: by the tenant; `gone`: the endpoint answered 410; `failing`: every attempt failed for WEBHOOK_DISABLE_AFTER_HOURS' }),
    disabledAt: z.string().nullable(),
    failingSince: z.string().nullable().meta({ description: 'Since when every delivery attempt has failed (null after a success)' }),
    previousSecretExpiresAt: z.string().nullable().meta({ description: 'Until when the secret before the last rotation still signs deliveries' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'WebhookEndpoint', examples: [ENDPOINT_EXAMPLE] });
const withSecretOut = z
  .object({
    endpoint: webhookEndpointOut,
    secret: z.string().meta({ description: 'The signing secret (Standard Webhooks, `whsec_...`). Shown this once: store it now.' }),
  })
  .meta({ id: 'WebhookEndpointWithSecret', examples: [{ endpoint: ENDPOINT_EXAMPLE, secret: SECRET_EXAMPLE }] });

/** The endpoint store's refusals as HTTP answers. */
function refusal(err: unknown): never {
  if (err instanceof WebhookEndpointNotFoundError) throw ApiError.notFound('webhook endpoint', err.endpointId);
  if (err instanceof WebhookEndpointInvalidError) {
    throw new ApiError(400, 'validation_failed', `${err.field} is not allowed: ${err.message}`, [{ path: `body.${err.field}`, message: err.message }]);
  }
  if (err instanceof QuotaExceededError) throw quotaRefusal(err);
  throw err;
}

/** A tenant's webhook endpoints: where its events are delivered, signed with a secret shown once. */
export function webhookEndpointsRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  const storeDeps = { cipher: deps.cipher, urlPolicy: deps.urlPolicy, quotas: deps.quotas ?? DEFAULT_TENANT_QUOTAS };
  return r
    .endpoint(
      'post',
      '/v1/webhook-endpoints',
      {
        operationId: 'createWebhookEndpoint',
        summary: 'Add a webhook endpoint',
        description:
          'Events whose type matches one of `eventTypes` are POSTed to `url`, signed per the Standard Webhooks specification with the secret returned here (this once). A tenant may have several endpoints.',
        body: createBody,
        responses: {
          201: { description: 'Created, with its signing secret', schema: withSecretOut },
          422: { description: 'quota_exceeded: the tenant has TENANT_MAX_WEBHOOK_ENDPOINTS endpoints' },
        },
      },
      async ({ body, tenant, res }) => {
        const { row, secret } = await createWebhookEndpoint(db, storeDeps, byKey(tenant), body).catch(refusal);
        res.status(201).json({ endpoint: webhookEndpointView(row), secret });
      },
    )
    .endpoint(
      'get',
      '/v1/webhook-endpoints',
      {
        operationId: 'listWebhookEndpoints',
        summary: "List the tenant's webhook endpoints, oldest first (all of them: at most the quota)",
        responses: { 200: { description: 'Endpoints', schema: z.object({ data: z.array(webhookEndpointOut) }) } },
      },
      async ({ tenant, res }) => {
        res.json({ data: (await listWebhookEndpoints(db, tenant.id)).map(webhookEndpointView) });
      },
    )
    .endpoint(
      'get',
      '/v1/webhook-endpoints/:id',
      { operationId: 'getWebhookEndpoint', summary: 'Get a webhook endpoint (never its secret)', params: idParams, responses: { 200: { description: 'The endpoint', schema: webhookEndpointOut } } },
      async ({ params, tenant, res }) => {
        const row = await findWebhookEndpoint(db, tenant.id, params.id);
        if (!row) throw ApiError.notFound('webhook endpoint', params.id);
        res.json(webhookEndpointView(row));
      },
    )
    .endpoint(
      'patch',
      '/v1/webhook-endpoints/:id',
      {
        operationId: 'updateWebhookEndpoint',
        summary: 'Change a webhook endpoint',
        description:
          'A merge (RFC 7396): fields not sent stay as they are; `description: null` clears it. `enabled: false` disables the endpoint (reason `manual`); `enabled: true` re-enables a disabled one and clears its reason and failure clock.',
        params: idParams,
        body: patchBody,
        responses: { 200: { description: 'The changed endpoint', schema: webhookEndpointOut } },
      },
      async ({ params, body, tenant, res }) => {
        const { after } = await updateWebhookEndpoint(db, storeDeps, byKey(tenant), params.id, body).catch(refusal);
        res.json(webhookEndpointView(after));
      },
    )
    .endpoint(
      'delete',
      '/v1/webhook-endpoints/:id',
      {
        operationId: 'deleteWebhookEndpoint',
        summary: 'Delete a webhook endpoint, its deliveries and their attempts',
        params: idParams,
        responses: { 200: { description: 'The deleted endpoint', schema: webhookEndpointOut } },
      },
      async ({ params, tenant, res }) => {
        res.json(webhookEndpointView(await deleteWebhookEndpoint(db, byKey(tenant), params.id).catch(refusal)));
      },
    )
    .endpoint(
      'post',
      '/v1/webhook-endpoints/:id/rotate-secret',
      {
        operationId: 'rotateWebhookEndpointSecret',
        summary: "Replace a webhook endpoint's signing secret",
        description:
          'Returns the new secret (this once). The old one keeps signing deliveries beside it for `graceSeconds`, so a receiver can switch without rejecting a delivery; a rotation drops any older secret still in its grace period.',
        params: idParams,
        body: rotateBody,
        responses: { 200: { description: 'Rotated, with the new secret', schema: withSecretOut } },
      },
      async ({ params, body, tenant, res }) => {
        const { row, secret } = await rotateWebhookEndpointSecret(db, storeDeps, byKey(tenant), params.id, body.graceSeconds).catch(refusal);
        res.json({ endpoint: webhookEndpointView(row), secret });
      },
    );
}
