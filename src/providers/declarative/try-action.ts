/**
 * One action of a declarative provider run against a real connection, to see what a definition
 * does: the requests as they left (auth applied, secrets masked), the answers, and what the runtime
 * made of them (mapped customers, a gateway outcome). Only actions that read are run: a trial must
 * never move money or change the remote system's records.
 */
import { z } from 'zod';
import { RemoteRateLimitedError } from '../crm-client.js';
import { OutboundUrlError } from '../url-policy.js';
import { GatewayError, InvalidCredentialsError, type ConnectionContext } from '../types.js';
import type { ProviderDefinition } from './definition.js';
import { maskExchanges, recordExchanges, type RecordedExchange } from './exchange-recorder.js';
import { createDeclarativeProviderFactory } from './factory.js';
import type { FetchLike } from './http.js';

/** Actions a trial runs: lookups and checks of a gateway, reads of a customer system. */
export const TRY_ACTIONS = ['verifyCredentials', 'health', 'status', 'statusByMerchantReference', 'refundStatus', 'retrieve', 'list', 'changes'] as const;
export type TryAction = (typeof TRY_ACTIONS)[number];
/** Actions that move money or write to the remote system: refused, whatever the caller says. */
export const REFUSED_TRY_ACTIONS = ['authorize', 'capture', 'refund', 'cancel', 'create', 'update', 'delete'] as const;

export const tryActionInput = z
  .strictObject({
    reference: z.string().min(1).max(500).optional().meta({ description: "status, refundStatus: the gateway's id of the payment or refund." }),
    idempotencyKey: z.string().min(1).max(500).optional().meta({ description: 'statusByMerchantReference: our idempotency key of the attempt.' }),
    remoteId: z.string().min(1).max(500).optional().meta({ description: "retrieve: the record's id at the remote system." }),
    cursor: z.string().min(1).max(2000).optional().meta({ description: 'list, changes: where to start (absent: the first page).' }),
  })
  .meta({ id: 'TryActionInput' });
export type TryActionInput = z.output<typeof tryActionInput>;

/** What one trial did. */
export interface TryOutcome {
  action: TryAction;
  exchanges: RecordedExchange[];
  /** What the runtime made of the answers (absent when the action failed). */
  result?: Record<string, unknown>;
  /** The failure as the platform classifies it (a refused credential, a retryable 5xx, …). */
  error?: { code: string; message: string; classification?: string; httpStatus?: number };
}

/** The trial cannot run as asked (the provider lacks the action or an input is missing): a 4xx for the caller. */
export class TryRefusedError extends Error {
  override readonly name = 'TryRefusedError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function requireInput<K extends keyof TryActionInput>(input: TryActionInput, key: K, action: TryAction): NonNullable<TryActionInput[K]> {
  const value = input[key];
  if (value === undefined) throw new TryRefusedError(`input.${key}`, `${action} needs input.${key}`);
  return value as NonNullable<TryActionInput[K]>;
}

function failureOf(err: unknown): TryOutcome['error'] | undefined {
  if (err instanceof GatewayError) {
    return { code: err.code, message: err.message, classification: err.classification, ...(err.httpStatus ? { httpStatus: err.httpStatus } : {}) };
  }
  if (err instanceof InvalidCredentialsError) return { code: 'invalid_credentials', message: err.message };
  if (err instanceof RemoteRateLimitedError) return { code: 'rate_limited', message: err.message };
  if (err instanceof z.ZodError) return { code: 'invalid_credentials', message: err.issues.map((i) => i.message).join('; ') };
  return undefined;
}

/**
 * Runs `action` once against the connection through `egress` (the guarded fetch real calls use),
 * with a client built for this trial only (fresh tokens: the token call is shown too). A destination
 * the egress guard refuses stays an OutboundUrlError for the caller; provider failures are the
 * outcome's `error`.
 */
export async function tryProviderAction(
  definition: ProviderDefinition,
  connection: ConnectionContext,
  egress: FetchLike,
  action: TryAction,
  input: TryActionInput,
): Promise<TryOutcome> {
  const recorder = recordExchanges(egress);
  const factory = createDeclarativeProviderFactory(definition, { fetch: recorder.fetch });
  /** Building a client does no I/O: what fails there is the connection's configuration (a required setting). */
  const build = <C>(make: () => C): C => {
    try {
      return make();
    } catch (err) {
      if (err instanceof z.ZodError || err instanceof OutboundUrlError || !(err instanceof Error)) throw err;
      throw new TryRefusedError('connectionId', err.message);
    }
  };
  const customers = () => {
    const sync = factory.customerSync;
    if (!sync) throw new TryRefusedError('action', `${definition.name} has no customerSync section: ${action} is a customer-sync action`);
    return build(() => sync.connect(connection));
  };
  /** The connection probe every provider has (credential check, health). */
  const probe = () => build(() => factory.create(connection));
  const gateway = () => {
    const paymentActions = ['status', 'statusByMerchantReference', 'refundStatus'];
    if (paymentActions.includes(action) && !definition.actions?.[action as 'status']) {
      throw new TryRefusedError('action', `${definition.name} defines no actions.${action}`);
    }
    const { payments } = probe();
    if (!payments) throw new TryRefusedError('action', `${definition.name} takes no payments: ${action} is a payment action`);
    return payments;
  };
  const run = async (): Promise<Record<string, unknown>> => {
    switch (action) {
      case 'verifyCredentials':
        return await probe().verifyCredentials();
      case 'health':
        return { ...(await probe().checkHealth()) };
      case 'status':
        return { outcome: await gateway().lookup({ paymentId: 'try', attempt: 0, idempotencyKey: input.idempotencyKey ?? '', reference: requireInput(input, 'reference', action) }) };
      case 'statusByMerchantReference':
        return { outcome: await gateway().lookup({ paymentId: 'try', attempt: 0, idempotencyKey: requireInput(input, 'idempotencyKey', action) }) };
      case 'refundStatus':
        return { outcome: (await gateway().lookupRefund?.(requireInput(input, 'reference', action))) ?? null };
      case 'retrieve':
        return { customer: await customers().retrieve(requireInput(input, 'remoteId', action)) };
      case 'list': {
        if (!definition.customerSync?.endpoints.list) throw new TryRefusedError('action', `${definition.name} defines no customerSync.endpoints.list`);
        const page = await customers().list(input.cursor ?? null);
        return { customers: page.records, cursor: page.cursor };
      }
      case 'changes': {
        if (!definition.customerSync?.endpoints.changes) throw new TryRefusedError('action', `${definition.name} defines no customerSync.endpoints.changes`);
        return { ...(await customers().changesSince(input.cursor ?? null)) };
      }
    }
  };
  let outcome: Omit<TryOutcome, 'exchanges'>;
  try {
    outcome = { action, result: await run() };
  } catch (err) {
    if (err instanceof TryRefusedError || err instanceof OutboundUrlError) throw err;
    const error = failureOf(err);
    if (!error) throw err;
    outcome = { action, error };
  }
  return maskExchanges({ ...outcome, exchanges: recorder.exchanges }, recorder.exchanges, Object.values(connection.credentials));
}
