/**
 * POST /v1/providers/:name/try: one read-only action of a declarative provider against one of the
 * tenant's connections, answering with the requests sent (secrets masked), the answers and what the
 * runtime made of them. The API decrypts the connection's credentials for the call (as it does to
 * verify webhooks) and sends through the same egress guard as the workers.
 */
import { z } from 'zod';
import { connectionCredentials, findConnection } from '../../stores/platform/connection-store.js';
import { UnknownProviderError } from '../../providers/registry.js';
import { OutboundUrlError } from '../../providers/url-policy.js';
import type { DeclarativeProviderFactory } from '../../providers/declarative/factory.js';
import {
  REFUSED_TRY_ACTIONS,
  TRY_ACTIONS,
  tryActionInput,
  tryProviderAction,
  TryRefusedError,
  type TryAction,
} from '../../providers/declarative/try-action.js';
import type { AppDeps } from '../deps.js';
import type { ResourceRouter } from '../endpoint.js';
import { ApiError, requireCredentialsKey } from '../errors.js';
import { PROVIDER_TRY_EXAMPLE, PROVIDER_TRY_OUT_EXAMPLE } from './provider-try-examples.js';

const refused = new Set<string>(REFUSED_TRY_ACTIONS);
const allowed = new Set<string>(TRY_ACTIONS);

export const tryAction = z
  .string()
  .superRefine((action, ctx) => {
    if (refused.has(action)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${action}" moves money or changes the remote system's records and is never run as a trial; try runs the read-only actions: ${TRY_ACTIONS.join(', ')}`,
      });
    } else if (!allowed.has(action)) {
      ctx.addIssue({ code: 'custom', message: `unknown action "${action}"; try runs: ${TRY_ACTIONS.join(', ')}` });
    }
  })
  .meta({ description: `One of ${TRY_ACTIONS.join(', ')}. ${REFUSED_TRY_ACTIONS.join(', ')} are refused: a trial never moves money or writes.` });

const tryBody = z
  .strictObject({
    connectionId: z.string().min(1).max(100).meta({ description: "One of the tenant's connections of this provider." }),
    action: tryAction,
    input: tryActionInput.default({}),
  })
  .meta({ id: 'ProviderTryRequest', examples: [PROVIDER_TRY_EXAMPLE] });

/** What a trial shows: shared by the provider and the ERP integration trials. */
export const recordedExchange = z
  .object({
    request: z.object({ method: z.string(), url: z.string(), headers: z.record(z.string(), z.string()), body: z.string().optional() }),
    response: z
      .object({ status: z.number().int(), headers: z.record(z.string(), z.string()), body: z.unknown(), truncated: z.boolean() })
      .optional(),
    error: z.string().optional(),
  })
  .meta({ id: 'RecordedExchange', description: 'One HTTP exchange as it happened; credentials, auth headers and secret-named fields are shown as ***.' });

const tryOut = z
  .object({
    action: z.enum(TRY_ACTIONS),
    exchanges: z.array(recordedExchange),
    result: z.record(z.string(), z.unknown()).optional().meta({ description: 'What the runtime made of the answers: mapped customers, a gateway outcome, the account.' }),
    error: z
      .object({ code: z.string(), message: z.string(), classification: z.string().optional(), httpStatus: z.number().int().optional() })
      .optional()
      .meta({ description: 'The failure as the platform classifies it, when the action failed at the provider.' }),
  })
  .meta({ id: 'ProviderTryResult', examples: [PROVIDER_TRY_OUT_EXAMPLE] });

const params = z.object({ name: z.string().min(1).max(100) });

export function providerTryEndpoint(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  return r.endpoint(
    'post',
    '/v1/providers/:name/try',
    {
      operationId: 'tryProvider',
      summary: 'Run one read-only action of a declarative provider against a connection, and see the exchange',
      description:
        'Answers with the requests as they were sent (auth applied; credential values, Authorization/Cookie headers and secret-named fields shown as ***), ' +
        'the answers (bodies cut at 64 KiB) and the result as the platform reads it: the mapped customers of a list page, the gateway outcome of a status lookup. ' +
        `Only read-only actions run (${TRY_ACTIONS.join(', ')}); ${REFUSED_TRY_ACTIONS.join(', ')} are refused with 400. ` +
        'A provider failure is a 200 with `error`; a destination the egress guard refuses is a 422 destination_blocked.',
      params,
      body: tryBody,
      responses: { 200: { description: 'What the action sent, received and produced', schema: tryOut } },
    },
    async ({ params: { name }, body, tenant, res }) => {
      const conn = await findConnection(db, tenant.id, body.connectionId);
      if (!conn) throw ApiError.notFound('connection', body.connectionId);
      if (conn.provider !== name) {
        throw new ApiError(400, 'validation_failed', `connection ${conn.id} uses provider "${conn.provider}", not "${name}"`, [
          { path: 'body.connectionId', message: `a connection of provider "${conn.provider}"` },
        ]);
      }
      const factory = await deps.providers.resolve(tenant.id, name).then(
        (p) => p.factory as Partial<DeclarativeProviderFactory>,
        (err: unknown) => {
          throw err instanceof UnknownProviderError ? ApiError.notFound('provider', name) : err;
        },
      );
      if (!factory.definition) {
        throw new ApiError(400, 'validation_failed', `"${name}" is a code adapter; try runs declarative definitions`, [{ path: 'params.name', message: 'not a declarative provider' }]);
      }
      requireCredentialsKey(deps.cipher, conn);
      const credentials = connectionCredentials(db, deps.cipher, conn).open();
      try {
        const outcome = await tryProviderAction(
          factory.definition,
          { tenantId: tenant.id, connectionId: conn.id, credentials, settings: conn.settings },
          deps.egress,
          body.action as TryAction,
          body.input,
        );
        res.json(outcome);
      } catch (err) {
        if (err instanceof TryRefusedError) throw new ApiError(400, 'validation_failed', err.message, [{ path: `body.${err.field}`, message: err.message }]);
        if (err instanceof OutboundUrlError) throw new ApiError(422, 'destination_blocked', err.message, [{ path: 'connection', message: 'refused by the egress guard' }]);
        throw err;
      }
    },
  );
}
