/**
 * The public format of a declarative provider: one YAML/JSON file describes a REST payment gateway
 * (endpoints, auth, request templates, response and status mappings, error table, webhook rule).
 * docs/declarative-providers.md explains every field; docs/provider-definition.schema.json is
 * generated from this schema (scripts/generate-provider-schema.ts).
 */
import { UNIFIED_DECLINE_CODES } from '../../domain/payments/decline-codes.js';
import { isCurrencyCode } from '../../domain/currencies.js';
import { PAYMENT_METHOD_TYPES } from '../../domain/payments/routing.js';
import { z } from 'zod';
import { GATEWAY_STATUSES } from '../../domain/payments/payment-status.js';
import { parsePath, templateVariables } from '../../domain/template.js';
import { checkSignatureCredential, webhookSignatureSchema } from './webhook-signature.js';
import { apiKeyAuth, authCredentialRefs, authTemplates, oauth2RefreshTokenAuth, selectAuthOf, sessionTokenAuth } from './auth-schema.js';
import { modifiedAfterSchema } from './crm-paging.js';
import { errorActionsSchema, misplacedIgnores } from './error-rules.js';
import { paginationSchema } from './pagination.js';
import { formatVersionSchema, PROVIDER_LEGACY_FIELDS, refusingLegacyFieldsInV2 } from './format-version.js';
import { recordFilterSchema } from './record-filter.js';

const ERROR_CLASSES = ['hard_decline', 'retryable', 'ambiguous'] as const;

/**
 * Variables each action's templates can use: exactly what the runtime passes for that call, so a
 * template naming anything else is refused when the definition is saved, not when money moves.
 * Amounts are in the gateway's units (see currencyExceptions).
 */
export const ACTION_TEMPLATE_VARIABLES = {
  authorize: [
    'payment',
    'amount',
    'currency',
    'country',
    'paymentMethod',
    'idempotencyKey',
    'paymentId',
    'attempt',
    'credentials',
    'settings',
  ],
  capture: ['reference', 'amount', 'currency', 'idempotencyKey', 'credentials', 'settings'],
  refund: ['reference', 'amount', 'currency', 'idempotencyKey', 'paymentId', 'credentials', 'settings'],
  cancel: ['reference', 'idempotencyKey', 'credentials', 'settings'],
  status: ['reference', 'paymentId', 'attempt', 'idempotencyKey', 'credentials', 'settings'],
  statusByMerchantReference: [
    'reference',
    'paymentId',
    'attempt',
    'idempotencyKey',
    'credentials',
    'settings',
  ],
  health: ['credentials', 'settings'],
  verifyCredentials: ['credentials', 'settings'],
  // The refund lookup some branches add (lookupRefund passes the refund id as reference).
  refundStatus: ['reference', 'credentials', 'settings'],
} as const satisfies Record<string, readonly string[]>;

/** Variables available to connection-level templates (base URL, auth). */
export const CONNECTION_TEMPLATE_VARIABLES = ['credentials', 'settings'] as const;

const template = z.string().meta({
  id: 'ProviderTemplate',
  description: "A template: literal text with '{{path | filter:arg}}' expressions.",
});

const responsePath = z
  .string()
  .refine(
    (p) => {
      try {
        return parsePath(p).length > 0;
      } catch {
        return false;
      }
    },
    { message: "Not a valid path (use dotted keys and [index], e.g. 'data.items[0].id')" },
  )
  .meta({
    id: 'ProviderResponsePath',
    description: "A dotted path into the response JSON, e.g. 'data.transaction.id' or 'items[0].status'.",
  });

const gatewayStatus = z.enum(GATEWAY_STATUSES).meta({ id: 'ProviderGatewayStatus' });

const statusMap = z.record(z.string(), gatewayStatus).meta({
  id: 'ProviderStatusMap',
  description: 'Provider status string (exact match) → Switchyard gateway status.',
});

const credentialField = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'Credential names are identifiers (letters, digits, _)')
      .meta({ description: 'Key in the connection credentials, read in templates as credentials.<name>.' }),
    description: z.string().optional(),
    required: z.boolean().default(true),
    secret: z.boolean().default(true).meta({ description: 'Shown masked in UIs; never logged.' }),
  })
  .strict();

const settingField = z
  .object({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'Setting names are identifiers (letters, digits, _)'),
    description: z.string().optional(),
    required: z.boolean().default(false),
  })
  .strict();

const basicAuth = z
  .object({ type: z.literal('basic'), username: template, password: template })
  .strict()
  .meta({ description: 'HTTP Basic authentication.' });
const bearerAuth = z
  .object({ type: z.literal('bearer'), token: template })
  .strict()
  .meta({ description: "'Authorization: Bearer <token>' with a static token." });
const headerAuth = z
  .object({
    type: z.literal('header'),
    name: z.string().regex(/^[A-Za-z0-9-]+$/, 'Not a valid header name'),
    value: template,
  })
  .strict()
  .meta({ description: 'A static API-key header, e.g. X-Api-Key.' });
const oauth2Auth = z
  .object({
    type: z.literal('oauth2_client_credentials'),
    tokenUrl: template.meta({
      description: "Token endpoint; a path starting with '/' is relative to baseUrl.",
    }),
    clientId: template,
    clientSecret: template,
    scope: template.optional(),
    audience: template.optional(),
    clientAuthentication: z
      .enum(['body', 'basic'])
      .default('body')
      .meta({ description: "Send client id/secret as form fields ('body') or as HTTP Basic ('basic')." }),
  })
  .strict()
  .meta({
    description:
      'OAuth2 client-credentials grant: a token per connection, cached until shortly before expires_in, refreshed once on a 401.',
  });

/** OAuth2 resource-owner password grant (ERPs often have no client credentials); same token handling. */
export const oauth2PasswordAuth = z
  .object({
    type: z.literal('oauth2_password'),
    tokenUrl: template.meta({ description: "Token endpoint; a path starting with '/' is relative to baseUrl." }),
    username: template,
    password: template,
    clientId: template.optional(),
    clientSecret: template.optional(),
    scope: template.optional(),
  })
  .strict()
  .meta({
    description:
      'OAuth2 password grant: a token per connection, cached until shortly before expires_in, fetched again on a 401.',
  });
export type OAuth2PasswordDefinition = z.output<typeof oauth2PasswordAuth>;

const plainAuth = z.discriminatedUnion('type', [
  basicAuth,
  bearerAuth,
  headerAuth,
  oauth2Auth,
  oauth2PasswordAuth,
  apiKeyAuth,
  sessionTokenAuth,
  oauth2RefreshTokenAuth,
]).meta({ id: 'ProviderAuthOption', description: 'One way of authenticating (an option of auth.select).' });
/** The `auth:` block of every definition (gateways, CRM targets, ERP connectors). */
export const authSchema = z
  .discriminatedUnion('type', [...plainAuth.options, selectAuthOf(plainAuth)])
  .meta({ id: 'ProviderAuth', description: 'How requests are authenticated. See docs/declarative-providers.md#authentication.' });

const httpStatusMatch = z
  .union([
    z.number().int().min(100).max(599),
    z.tuple([z.number().int().min(100).max(599), z.number().int().min(100).max(599)]),
  ])
  .meta({ description: 'One HTTP status, or an inclusive range [from, to].' });

const errorRule = z
  .object({
    httpStatus: httpStatusMatch.optional(),
    code: z
      .union([z.string(), z.array(z.string()).min(1)])
      .optional()
      .meta({ description: 'Provider error code(s) read at errors.codePath.' }),
    classification: z.enum(ERROR_CLASSES),
  })
  .strict()
  .refine((r) => r.httpStatus !== undefined || r.code !== undefined, {
    message: 'An error rule needs httpStatus, code, or both',
  });

const errorsSchema = z
  .object({
    codePath: responsePath
      .optional()
      .meta({ description: "Where the provider's error code is in an error response." }),
    messagePath: responsePath.optional(),
    rules: z.array(errorRule).default([]).meta({
      description: 'Checked in order for non-2xx responses; the first match wins, then the defaults apply.',
    }),
  })
  .strict();

const responseMapping = z
  .object({
    reference: responsePath.optional().meta({ description: "The gateway's transaction (or refund) id." }),
    status: responsePath.optional().meta({ description: 'The provider status, mapped through statusMap.' }),
    defaultStatus: gatewayStatus
      .optional()
      .meta({ description: 'Status to assume when the response carries none (e.g. a 204 on cancel).' }),
    declineCode: responsePath.optional(),
    message: responsePath.optional(),
    amountCaptured: responsePath.optional(),
    amountUnits: z
      .enum(['minor', 'major'])
      .default('minor')
      .meta({ description: "Units of amountCaptured: 'minor' (cents) or 'major' decimal strings (10.50)." }),
    currency: responsePath.optional().meta({
      description:
        'Currency of the amounts in the response (needed for major units when the request had none).',
    }),
    account: responsePath
      .optional()
      .meta({ description: 'verifyCredentials: a human label of the account.' }),
    notFoundStatuses: z.array(z.number().int().min(400).max(599)).default([404]).meta({
      description: 'Status lookups: HTTP statuses that mean "no such transaction" (lookup returns null).',
    }),
  })
  .strict()
  .meta({ id: 'ProviderResponseMapping' });

/** A body template leaf or branch: string leaves are templates, other JSON values are sent as is. */
type BodyValue = string | number | boolean | null | BodyValue[] | { [key: string]: BodyValue };
const bodyValue: z.ZodType<BodyValue> = z
  .lazy(() =>
    z.union([
      z.string(),
      z.number(),
      z.boolean(),
      z.null(),
      z.array(bodyValue),
      z.record(z.string(), bodyValue),
    ]),
  )
  .meta({ id: 'ProviderBodyValue' });

const bodySchema = z
  .object({
    encoding: z
      .enum(['json', 'form'])
      .meta({ description: "'json' or 'form' (application/x-www-form-urlencoded, nested keys as a[b])." }),
    template: z
      .record(z.string(), bodyValue)
      .meta({ description: 'The body as a nested object whose string leaves are templates.' }),
  })
  .strict();

export const actionSchema = z
  .object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    path: template
      .refine((p) => p.startsWith('/'), { message: "A path starts with '/' (it is appended to baseUrl)" })
      .meta({
        description:
          "Appended to baseUrl; interpolated values are URL-encoded, e.g. '/v1/payments/{{reference}}'.",
      }),
    query: z.record(z.string(), template).optional().meta({ description: 'Query parameters (templates).' }),
    headers: z.record(z.string(), template).optional(),
    body: bodySchema.optional(),
    idempotencyHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, 'Not a valid header name')
      .optional()
      .meta({ description: 'Header that carries our idempotency key, e.g. Idempotency-Key.' }),
    statusMap: statusMap
      .optional()
      .meta({ description: 'Overrides/extends the top-level statusMap for this action.' }),
    response: responseMapping.default({ amountUnits: 'minor', notFoundStatuses: [404] }),
  })
  .strict()
  .meta({ id: 'ProviderAction', description: 'One HTTP call of the provider API.' });

const actionsSchema = z
  .object({
    authorize: actionSchema,
    capture: actionSchema.optional(),
    refund: actionSchema.optional(),
    cancel: actionSchema.optional(),
    status: actionSchema
      .optional()
      .meta({ description: "Lookup by the gateway's reference ({{reference}})." }),
    statusByMerchantReference: actionSchema.optional().meta({
      description: 'Lookup by our idempotency key ({{idempotencyKey}}), used when no reference is known.',
    }),
    health: actionSchema.optional(),
    verifyCredentials: actionSchema.optional(),
    refundStatus: actionSchema.optional().meta({
      description: "Lookup of a refund by the gateway's refund id ({{reference}}); lets a pending refund be polled.",
    }),
  })
  .strict()
  .refine((a) => a.status !== undefined || a.statusByMerchantReference !== undefined, {
    message:
      'Define actions.status or actions.statusByMerchantReference: ambiguous outcomes are resolved by a lookup',
  });

// Every action must have its row above: a new action without one fails type-checking here.
ACTION_TEMPLATE_VARIABLES satisfies Record<keyof z.output<typeof actionsSchema>, readonly string[]>;

const webhookSchema = z
  .object({
    signature: webhookSignatureSchema,
    event: z
      .object({
        eventId: responsePath
          .optional()
          .meta({ description: 'Unique event id; without it, a hash of the body is used.' }),
        type: responsePath.optional(),
        reference: responsePath.optional(),
        paymentId: responsePath.optional().meta({ description: 'Our payment id as echoed by the gateway.' }),
        status: responsePath.optional().meta({ description: 'Provider status, mapped through statusMap.' }),
      })
      .strict(),
    statusMap: statusMap.optional(),
    confirmByLookup: z.boolean().default(true).meta({
      description:
        'Confirm a callback that claims a final status with a status lookup before it moves money (a callback is a claim, not a fact). Default true.',
    }),
  })
  .strict();

const capabilitiesSchema = z
  .object({
    currencies: z.array(z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 code in upper case')).min(1),
    countries: z.array(z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 code in upper case')).min(1),
    paymentMethods: z.array(z.enum(PAYMENT_METHOD_TYPES)).min(1),
    captureModes: z.array(z.enum(['automatic', 'manual'])).min(1),
  })
  .strict();

const currencyExceptionsSchema = z
  .record(
    z
      .string()
      .regex(/^[A-Z]{3}$/)
      .meta({ description: 'An ISO 4217 code in upper case, e.g. MGA' }),
    z
      .object({
        exponent: z.number().int().min(0).max(4).meta({
          description:
            "Decimal places of the gateway's amount unit for this currency (ISO 4217 says 2 for MGA; a gateway may say 0).",
        }),
        multipleOf: z.number().int().positive().optional().meta({
          description:
            'The gateway only takes amounts (in its units) divisible by this, e.g. 100 when it wants whole units in a two-decimal field.',
        }),
      })
      .strict(),
  )
  .meta({
    id: 'ProviderCurrencyExceptions',
    description:
      "Currencies the gateway counts differently from ISO 4217. Amounts in templates ({{amount}}, minor_to_decimal) and in responses (amountUnits: minor) are in the gateway's units; Switchyard converts exactly and refuses an amount that would need rounding.",
  });

const declineCodesSchema = z.record(z.string().min(1), z.enum(UNIFIED_DECLINE_CODES)).meta({
  id: 'ProviderDeclineCodes',
  description:
    "The provider's raw decline/error codes (as read at declineCode or errors.codePath) → Switchyard's unified code, shown beside the raw code on each attempt. Unlisted codes get the generic code of their class (card_declined or processing_error).",
});

/**
 * Variables each customer-sync endpoint's templates can use (what the runtime passes for that call).
 * Request bodies are not templates: they are built from `fields`, so customer data is never parsed
 * as a template.
 */
export const CUSTOMER_SYNC_TEMPLATE_VARIABLES = {
  create: ['localId', 'idempotencyKey', 'credentials', 'settings'],
  // `version`: the record's revision (customerSync.record.version) as last read, for If-Match-style headers.
  update: ['remoteId', 'localId', 'idempotencyKey', 'version', 'credentials', 'settings'],
  delete: ['remoteId', 'idempotencyKey', 'version', 'credentials', 'settings'],
  retrieve: ['remoteId', 'credentials', 'settings'],
  changes: ['cursor', 'credentials', 'settings'],
  list: ['cursor', 'credentials', 'settings'],
} as const satisfies Record<string, readonly string[]>;

const customerEndpoint = z
  .object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    path: template
      .refine((p) => p.startsWith('/'), { message: "A path starts with '/' (it is appended to baseUrl)" })
      .meta({ description: "Appended to baseUrl; interpolated values are URL-encoded, e.g. '/contacts/{{remoteId}}'." }),
    query: z.record(z.string(), template).optional().meta({ description: 'Query parameters (templates); one rendering to nothing is left out.' }),
    headers: z.record(z.string(), template).optional(),
    idempotencyHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, 'Not a valid header name')
      .optional()
      .meta({ description: 'Header that carries our idempotency key (customer, version, connection).' }),
    onError: errorActionsSchema,
  })
  .strict()
  .meta({ id: 'CustomerSyncEndpoint', description: 'One HTTP call of the remote system. Write bodies are built from `fields`.' });

const customerEventKind = z.enum(['created', 'updated', 'deleted']);

const customerEventMapping = z
  .object({
    eventId: responsePath.optional().meta({
      description:
        "Unique event id (the inbox dedupes on it). Absent: a webhook's delivery id header (the signature's idHeader), else a SHA-256 of the raw body; a change-feed item's SHA-256.",
    }),
    type: responsePath.meta({ description: 'The event type, looked up in `kinds`.' }),
    kinds: z
      .record(z.string(), customerEventKind)
      .refine((k) => Object.keys(k).length > 0, { message: 'Map at least one event type' })
      .meta({ description: "Remote event type → 'created' | 'updated' | 'deleted'; other types are ignored." }),
    remoteId: responsePath.meta({ description: "The record's id at the remote system." }),
    localId: responsePath.optional().meta({ description: 'Our id, when the event carries the link.' }),
    occurredAt: responsePath.meta({ description: 'When it changed: an ISO 8601 string, or epoch seconds/milliseconds.' }),
  })
  .strict()
  .meta({ id: 'CustomerSyncEventMapping' });

const feedEndpoint = customerEndpoint
  .extend({
    items: responsePath.meta({ description: 'Where the array of items is in the response.' }),
    nextCursor: responsePath.optional().meta({ description: 'The cursor to resume from (sent again as {{cursor}}). Older form of pagination: {type: cursor}.' }),
    hasMore: responsePath.optional().meta({ description: 'With nextCursor: a boolean, more pages follow. Without it, a page with items means "maybe more".' }),
    pagination: paginationSchema.optional().meta({ description: 'How the next page is found (instead of nextCursor/hasMore).' }),
    filter: recordFilterSchema.optional().meta({ description: 'Items (paths relative to the item) that fail these conditions are skipped.' }),
  })
  .strict();

const addressFieldsMapping = z
  .object({
    line1: responsePath.optional(),
    line2: responsePath.optional(),
    city: responsePath.optional(),
    postalCode: responsePath.optional(),
    state: responsePath.optional(),
    country: responsePath.optional(),
  })
  .strict();

const customerSyncSchema = z
  .object({
    record: z
      .object({
        root: responsePath.optional().meta({
          description: "Where the record sits in a single-record request and response, e.g. 'contact' for { contact: {...} }; absent: the body is the record.",
        }),
        id: responsePath.meta({ description: "The remote id, inside the record (e.g. 'id')." }),
        localId: responsePath.optional().meta({
          description: 'Where our customer id is stored on the remote record (written on create, read back to link records).',
        }),
        deleted: responsePath.optional().meta({ description: 'A flag that marks an archived record (truthy: deleted).' }),
        version: responsePath.optional().meta({
          description: "The record's revision (optimistic concurrency), e.g. 'revision': read before every update and delete, available to their templates as {{version}}.",
        }),
      })
      .strict(),
    fields: z
      .object({
        email: responsePath.optional(),
        name: responsePath.optional(),
        phone: responsePath.optional(),
        description: responsePath.optional(),
        metadata: responsePath.optional().meta({ description: 'An object of string values (custom fields).' }),
        address: addressFieldsMapping.optional(),
      })
      .strict()
      .meta({
        id: 'CustomerSyncFieldMapping',
        description: "Our customer field → its path inside the remote record, e.g. email: 'emails[0].value'. Unmapped fields are not synced.",
      }),
    endpoints: z
      .object({
        create: customerEndpoint,
        update: customerEndpoint
          .extend({
            conflictStatuses: z.array(z.number().int().min(400).max(599)).default([409, 412]).meta({
              description: 'With record.version: statuses meaning "the version was stale"; the push re-reads, merges and retries.',
            }),
          })
          .strict()
          .meta({ description: 'Gets only the changed fields (a whole array when one of its items changed).' }),
        delete: customerEndpoint,
        retrieve: customerEndpoint
          .extend({
            notFoundStatuses: z.array(z.number().int().min(400).max(599)).default([404]).meta({ description: 'The record never existed.' }),
            goneStatuses: z.array(z.number().int().min(400).max(599)).default([410]).meta({ description: 'The record was deleted.' }),
          })
          .strict(),
        changes: feedEndpoint
          .extend({ event: customerEventMapping.meta({ description: 'Reads one item of the feed, paths relative to the item.' }) })
          .strict()
          .optional()
          .meta({ description: 'The change feed read by reconciliation, oldest first.' }),
        list: feedEndpoint
          .extend({ modifiedAfter: modifiedAfterSchema.optional() })
          .strict()
          .optional()
          .meta({ description: 'Every record, page by page (items are records).' }),
      })
      .strict(),
    events: customerEventMapping.meta({ description: "Reads a verified webhook's body." }),
    webhook: z
      .object({ signature: webhookSignatureSchema })
      .strict()
      .optional()
      .meta({ description: "How the system's webhooks are signed (used when the provider has no payment webhook rule)." }),
  })
  .strict()
  .meta({
    id: 'CustomerSyncDefinition',
    description: 'Makes the provider a customer-sync target: endpoints, field mapping, webhook events. See docs/customer-sync.md.',
  });

const baseDefinitionSchema = z
  .object({
    $schema: z.string().optional(),
    formatVersion: formatVersionSchema,
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{1,39}$/, 'Lower-case slug: letters, digits, - and _, starting with a letter')
      .meta({ description: "Provider type id as stored on connections, e.g. 'acmepay'." }),
    displayName: z.string().min(1),
    version: z
      .string()
      .min(1)
      .meta({ description: 'Version of this definition, e.g. "1.0.0" (quote it in YAML).' }),
    baseUrl: template.meta({
      description:
        'Base URL (template over settings/credentials), e.g. "{{settings.baseUrl | default:\'https://api.example\'}}".',
    }),
    timeoutMs: z.number().int().positive().max(120_000).optional(),
    credentials: z.array(credentialField).default([]),
    settings: z.array(settingField).default([]),
    auth: authSchema,
    actions: actionsSchema.optional().meta({ description: 'The payment actions; absent for a system that only syncs customers.' }),
    statusMap: statusMap.default({}),
    errors: errorsSchema.default({ rules: [] }),
    webhook: webhookSchema.optional(),
    capabilities: capabilitiesSchema.optional().meta({ description: 'Required with actions.' }),
    customerSync: customerSyncSchema.optional(),
    currencyExceptions: currencyExceptionsSchema.default({}),
    declineCodes: declineCodesSchema.default({}),
  })
  .strict();

interface TemplateField {
  path: (string | number)[];
  value: string;
  allowed: readonly string[];
}

function collectTemplates(def: z.infer<typeof baseDefinitionSchema>): TemplateField[] {
  const fields: TemplateField[] = [];
  const add = (path: (string | number)[], value: unknown, allowed: readonly string[]): void => {
    if (typeof value === 'string') fields.push({ path, value, allowed });
    else if (Array.isArray(value)) value.forEach((v, i) => add([...path, i], v, allowed));
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) add([...path, k], v, allowed);
    }
  };
  add(['baseUrl'], def.baseUrl, CONNECTION_TEMPLATE_VARIABLES);
  fields.push(...authTemplates(def.auth, ['auth']));
  for (const [name, endpoint] of Object.entries(def.customerSync?.endpoints ?? {})) {
    if (!endpoint) continue;
    const at = ['customerSync', 'endpoints', name];
    // {{version}} exists only where the definition says where records keep it.
    const allowed = CUSTOMER_SYNC_TEMPLATE_VARIABLES[name as keyof typeof CUSTOMER_SYNC_TEMPLATE_VARIABLES].filter(
      (v) => v !== 'version' || def.customerSync?.record.version !== undefined,
    );
    add([...at, 'path'], endpoint.path, allowed);
    add([...at, 'query'], endpoint.query, allowed);
    add([...at, 'headers'], endpoint.headers, allowed);
  }
  for (const [name, action] of Object.entries(def.actions ?? {})) {
    if (!action) continue;
    const at = ['actions', name];
    const allowed = ACTION_TEMPLATE_VARIABLES[name as keyof typeof ACTION_TEMPLATE_VARIABLES];
    add([...at, 'path'], action.path, allowed);
    add([...at, 'query'], action.query, allowed);
    add([...at, 'headers'], action.headers, allowed);
    add([...at, 'body', 'template'], action.body?.template, allowed);
  }
  return fields;
}

/** Semantic checks zod's shape cannot express: template syntax, variable names, cross references. */
function checkDefinition(def: z.infer<typeof baseDefinitionSchema>, ctx: z.core.$RefinementCtx): void {
  const credentialNames = new Set(def.credentials.map((c) => c.name));
  const settingNames = new Set(def.settings.map((s) => s.name));
  for (const field of collectTemplates(def)) {
    let vars: string[];
    try {
      vars = templateVariables(field.value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: field.path, message: (err as Error).message });
      continue;
    }
    for (const variable of vars) {
      const [root, key] = parsePath(variable);
      if (typeof root !== 'string' || !field.allowed.includes(root)) {
        const where =
          field.path[0] === 'actions'
            ? ` in action '${String(field.path[1])}'`
            : field.path[0] === 'customerSync'
              ? ` in customerSync endpoint '${String(field.path[2])}'`
              : '';
        ctx.addIssue({
          code: 'custom',
          path: field.path,
          message: `Unknown variable '${variable}'${where} (available here: ${field.allowed.join(', ')})`,
        });
      } else if (root === 'credentials' && (typeof key !== 'string' || !credentialNames.has(key))) {
        ctx.addIssue({
          code: 'custom',
          path: field.path,
          message: `'${variable}' is not a declared credential (declared: ${[...credentialNames].join(', ') || 'none'})`,
        });
      } else if (
        root === 'settings' &&
        def.settings.length > 0 &&
        (typeof key !== 'string' || !settingNames.has(key))
      ) {
        ctx.addIssue({
          code: 'custom',
          path: field.path,
          message: `'${variable}' is not a declared setting`,
        });
      }
    }
  }
  for (const code of Object.keys(def.currencyExceptions)) {
    if (!isCurrencyCode(code)) {
      ctx.addIssue({
        code: 'custom',
        path: ['currencyExceptions', code],
        message: `'${code}' is not an ISO 4217 currency code`,
      });
    }
  }
  for (const ref of authCredentialRefs(def.auth, ['auth'])) {
    if (!credentialNames.has(ref.name)) {
      ctx.addIssue({ code: 'custom', path: ref.path, message: `'${ref.name}' is not a declared credential` });
    }
  }
  const seen = new Set<string>();
  def.credentials.forEach((c, i) => {
    if (seen.has(c.name))
      ctx.addIssue({
        code: 'custom',
        path: ['credentials', i, 'name'],
        message: `Duplicate credential '${c.name}'`,
      });
    seen.add(c.name);
  });
  if (def.webhook) checkSignatureCredential(def.webhook.signature, ['webhook', 'signature'], credentialNames, ctx);
  if (def.customerSync?.webhook) {
    checkSignatureCredential(def.customerSync.webhook.signature, ['customerSync', 'webhook', 'signature'], credentialNames, ctx);
  }
  if (def.customerSync) checkFieldMapping(def.customerSync, ctx);
  for (const name of ['list', 'changes'] as const) {
    const feed = def.customerSync?.endpoints[name];
    if (feed?.pagination && (feed.nextCursor !== undefined || feed.hasMore !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['customerSync', 'endpoints', name, 'pagination'], message: 'pagination replaces nextCursor and hasMore: use one or the other' });
    }
  }
  for (const [name, endpoint] of Object.entries(def.customerSync?.endpoints ?? {})) {
    for (const i of misplacedIgnores(name, endpoint?.onError)) {
      ctx.addIssue({ code: 'custom', path: ['customerSync', 'endpoints', name, 'onError', i, 'action'], message: `ignore applies to the retrieve and delete endpoints only, not ${name}` });
    }
  }
  if (!def.actions && !def.customerSync) {
    ctx.addIssue({ code: 'custom', path: ['actions'], message: 'Define actions (a payment gateway), customerSync (a customer system), or both' });
  }
  if (def.actions && !def.capabilities) {
    ctx.addIssue({ code: 'custom', path: ['capabilities'], message: 'A payment gateway (actions) declares its capabilities' });
  }
}

/** Two of our fields (or a field and the id or link) written to the same remote path would overwrite each other. */
function checkFieldMapping(spec: z.output<typeof customerSyncSchema>, ctx: z.core.$RefinementCtx): void {
  const { address, ...plain } = spec.fields;
  const taken = new Map<string, string>([[spec.record.id, 'record.id']]);
  if (spec.record.localId) taken.set(spec.record.localId, 'record.localId');
  const entries: [string[], string | undefined][] = [
    ...Object.entries(plain).map(([k, v]): [string[], string | undefined] => [[k], v]),
    ...Object.entries(address ?? {}).map(([k, v]): [string[], string | undefined] => [['address', k], v]),
  ];
  // An invalid path is reported by its own field; it compares as itself here.
  const keyOf = (path: string): string => {
    try {
      return JSON.stringify(parsePath(path));
    } catch {
      return path;
    }
  };
  for (const [at, path] of entries) {
    if (!path) continue;
    const key = keyOf(path);
    const other = [...taken.entries()].find(([p]) => keyOf(p) === key)?.[1];
    if (other) {
      ctx.addIssue({ code: 'custom', path: ['customerSync', 'fields', ...at], message: `'${path}' is already mapped by ${other}` });
    }
    taken.set(path, `fields.${at.join('.')}`);
  }
}

/** The zod schema of a provider definition file (either format version; see format-version.ts). */
export const providerDefinitionSchema = refusingLegacyFieldsInV2(baseDefinitionSchema.superRefine(checkDefinition), PROVIDER_LEGACY_FIELDS);

/** A validated provider definition (defaults applied). */
export type ProviderDefinition = z.output<typeof providerDefinitionSchema>;
/** A provider definition as written in a file (defaults optional). */
export type ProviderDefinitionInput = z.input<typeof baseDefinitionSchema>;
export type ActionDefinition = z.output<typeof actionSchema>;
export type AuthDefinition = z.output<typeof authSchema>;
export type ActionName = keyof NonNullable<ProviderDefinition['actions']>;
export type CustomerSyncDefinition = z.output<typeof customerSyncSchema>;
export type CustomerSyncEndpointName = keyof CustomerSyncDefinition['endpoints'];
/** A definition with payment actions (what DeclarativeGateway runs). */
export type GatewayDefinition = ProviderDefinition & {
  actions: NonNullable<ProviderDefinition['actions']>;
  capabilities: NonNullable<ProviderDefinition['capabilities']>;
};

/** The JSON Schema (draft 2020-12) of the file format, for editors and external validators. */
export function providerDefinitionJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(providerDefinitionSchema, { io: 'input', target: 'draft-2020-12' });
  return {
    ...schema,
    $id: 'https://switchyard.dev/schemas/provider-definition.schema.json',
    title: 'Switchyard declarative provider definition',
  };
}

/** The committed file's exact text (docs/provider-definition.schema.json). */
export function providerDefinitionJsonSchemaText(): string {
  return `${JSON.stringify(providerDefinitionJsonSchema(), null, 2)}\n`;
}
