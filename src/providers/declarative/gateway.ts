/** The PaymentGateway of a declarative provider: every method is driven by the definition. */
import type { GatewayStatus } from '../../domain/payments/payment-status.js';
import {
  AmountNotRepresentableError,
  fromGatewayAmount,
  gatewayExponent,
  toGatewayAmount,
} from '../../domain/payments/gateway-amounts.js';
import { decimalToMinor, GATEWAY_EXPONENT_VARIABLE, readPath } from '../../domain/template.js';
import {
  GatewayError,
  InvalidCredentialsError,
  WebhookSignatureError,
  type AttemptRef,
  type ChargeRequest,
  type GatewayOutcome,
  type GatewayWebhookEvent,
  type HeaderBag,
  type HealthProbe,
  type PaymentGateway,
  type RefundOutcome,
  type RefundRequest,
} from '../types.js';
import type { ActionDefinition, ActionName, GatewayDefinition } from './definition.js';
import { buildRequest, readString, type IncomingResponse } from './http.js';
import {
  httpFailure,
  outboundError,
  sendAuthorized,
  type ConnectionRuntime,
  type OutboundConnection,
  type OutboundErrorArgs,
} from './outbound.js';
import { parseWebhookEvent } from './webhook.js';
import { verifyWebhookSignature } from './webhook-signature.js';

export interface GatewayRuntime extends ConnectionRuntime {
  definition: GatewayDefinition;
  /** Verifies and reads webhooks when the definition has no payment webhook rule (customer-sync events). */
  otherWebhooks?: (rawBody: Buffer, headers: HeaderBag) => GatewayWebhookEvent;
}

type Vars = Record<string, unknown>;

/** Reference used by verifyCredentials when the definition has no verifyCredentials action. */
const PROBE_ID = 'switchyard-credential-check';

function refundStatusOf(status: GatewayStatus): RefundOutcome['status'] {
  if (status === 'succeeded') return 'succeeded';
  return status === 'failed' || status === 'canceled' ? 'failed' : 'pending';
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

export class DeclarativeGateway implements PaymentGateway {
  private readonly def: GatewayDefinition;
  private readonly outbound: OutboundConnection;

  constructor(private readonly rt: GatewayRuntime) {
    this.def = rt.definition;
    this.outbound = { ...rt, credentials: rt.connection.credentials };
  }

  async verifyCredentials(): Promise<{ account: string }> {
    const action = this.def.actions.verifyCredentials;
    if (action) {
      const res = await this.exchange('verifyCredentials', this.baseVars());
      this.throwUnlessSuccess('verifyCredentials', action, res);
      return { account: readString(res.body, action.response.account) ?? this.def.displayName };
    }
    // No dedicated endpoint: an authenticated lookup of an id that cannot exist proves the credentials.
    await this.lookup({ paymentId: PROBE_ID, attempt: 0, idempotencyKey: PROBE_ID, reference: PROBE_ID });
    return { account: this.def.displayName };
  }

  async authorize(req: ChargeRequest): Promise<GatewayOutcome> {
    const vars: Vars = {
      ...this.baseVars(),
      payment: req,
      ...this.amountVars(req.amount, req.currency),
      country: req.country,
      paymentMethod: req.paymentMethod,
      idempotencyKey: req.idempotencyKey,
      paymentId: req.paymentId,
      attempt: req.attempt,
    };
    return this.mutate('authorize', vars);
  }

  async lookup(ref: AttemptRef): Promise<GatewayOutcome | null> {
    const { status, statusByMerchantReference } = this.def.actions;
    const name: ActionName | undefined =
      ref.reference !== undefined && status
        ? 'status'
        : statusByMerchantReference
          ? 'statusByMerchantReference'
          : undefined;
    if (!name) {
      // Permanent: asking again (without a reference) cannot succeed.
      throw this.gatewayError(
        'hard_decline',
        'lookup_needs_reference',
        'status lookup needs the gateway reference, which is unknown',
      );
    }
    const action = this.def.actions[name] as ActionDefinition;
    const vars: Vars = {
      ...this.baseVars(),
      paymentId: ref.paymentId,
      attempt: ref.attempt,
      idempotencyKey: ref.idempotencyKey,
      reference: ref.reference,
    };
    const res = await this.exchange(name, vars);
    if (action.response.notFoundStatuses.includes(res.status)) return null;
    this.throwUnlessSuccess(name, action, res);
    // A search that matched nothing (e.g. an empty list) has neither a reference nor a status.
    const m = action.response;
    const found =
      (m.reference && readPath(res.body, m.reference) !== undefined) ||
      (m.status && readPath(res.body, m.status) !== undefined);
    if (!found) return null;
    return this.outcome(name, action, res, vars);
  }

  async capture(
    reference: string,
    amount: number,
    idempotencyKey: string,
    currency: string,
  ): Promise<GatewayOutcome> {
    return this.mutate('capture', {
      ...this.baseVars(),
      reference,
      ...this.amountVars(amount, currency),
      idempotencyKey,
    });
  }

  async refund(req: RefundRequest): Promise<RefundOutcome> {
    const vars: Vars = {
      ...this.baseVars(),
      reference: req.reference,
      ...this.amountVars(req.amount, req.currency),
      idempotencyKey: req.idempotencyKey,
      paymentId: req.paymentId,
    };
    const action = this.requireAction('refund');
    const res = await this.exchange('refund', vars);
    this.throwUnlessSuccess('refund', action, res);
    const outcome = this.outcome('refund', action, res, vars);
    return { status: refundStatusOf(outcome.status), reference: outcome.reference };
  }

  async cancel(reference: string, idempotencyKey: string): Promise<GatewayOutcome> {
    return this.mutate('cancel', { ...this.baseVars(), reference, idempotencyKey });
  }

  async lookupRefund(refundReference: string): Promise<RefundOutcome | null> {
    const action = this.def.actions.refundStatus;
    if (!action)
      throw this.gatewayError(
        'hard_decline',
        'action_not_supported',
        'refundStatus is not supported by this provider',
      );
    const vars: Vars = { ...this.baseVars(), reference: refundReference };
    const res = await this.exchange('refundStatus', vars);
    if (action.response.notFoundStatuses.includes(res.status)) return null;
    this.throwUnlessSuccess('refundStatus', action, res);
    return {
      status: refundStatusOf(this.outcome('refundStatus', action, res, vars).status),
      reference: refundReference,
    };
  }

  /** Only an action that sends our idempotency key can be resent without acting twice. */
  replaysWithKey(action: 'refund' | 'capture'): boolean {
    return this.def.actions[action]?.idempotencyHeader !== undefined;
  }

  get confirmsCallbacks(): boolean {
    return this.def.webhook?.confirmByLookup ?? true;
  }

  async checkHealth(): Promise<HealthProbe> {
    const started = this.rt.now();
    try {
      if (this.def.actions.health) {
        const res = await this.exchange('health', this.baseVars());
        const latencyMs = this.rt.now() - started;
        return isSuccess(res.status)
          ? { ok: true, latencyMs }
          : { ok: false, latencyMs, detail: `HTTP ${res.status}` };
      }
      await this.lookup({ paymentId: PROBE_ID, attempt: 0, idempotencyKey: PROBE_ID, reference: PROBE_ID });
      return { ok: true, latencyMs: this.rt.now() - started };
    } catch (err) {
      if (err instanceof GatewayError || err instanceof InvalidCredentialsError) {
        return { ok: false, latencyMs: this.rt.now() - started, detail: err.message };
      }
      throw err;
    }
  }

  parseWebhook(rawBody: Buffer, headers: HeaderBag): GatewayWebhookEvent {
    const webhook = this.def.webhook;
    if (!webhook && this.rt.otherWebhooks) return this.rt.otherWebhooks(rawBody, headers);
    if (!webhook) throw new WebhookSignatureError(`${this.def.name} does not send webhooks`);
    const secret = this.rt.connection.credentials[webhook.signature.secretCredential];
    if (!secret) {
      throw new WebhookSignatureError(
        `Connection has no '${webhook.signature.secretCredential}' credential to verify webhooks`,
      );
    }
    verifyWebhookSignature(webhook.signature, secret, rawBody, headers, this.rt.now());
    return parseWebhookEvent(webhook, this.def.statusMap, rawBody);
  }

  // --- internals ---

  private baseVars(): Vars {
    return { credentials: this.rt.connection.credentials, settings: this.rt.connection.settings };
  }

  /** `amount` in the gateway's units, the currency, and its exponent there (for minor_to_decimal). */
  private amountVars(amount: number, currency: string): Vars {
    const units = this.def.currencyExceptions;
    try {
      return {
        amount: toGatewayAmount(amount, currency, units),
        currency,
        [GATEWAY_EXPONENT_VARIABLE]: gatewayExponent(currency, units),
      };
    } catch (err) {
      if (!(err instanceof AmountNotRepresentableError)) throw err;
      // Nothing was sent; the same amount would be refused again.
      throw this.gatewayError('hard_decline', 'amount_not_representable', err.message);
    }
  }

  private requireAction(name: ActionName): ActionDefinition {
    const action = this.def.actions[name];
    if (!action) {
      // Retrying or falling back cannot make a missing endpoint appear.
      throw this.gatewayError(
        'hard_decline',
        'action_not_supported',
        `${name} is not supported by this provider`,
      );
    }
    return action;
  }

  /** authorize/capture/cancel: a 2xx whose status maps to `failed` is a hard decline. */
  private async mutate(name: 'authorize' | 'capture' | 'cancel', vars: Vars): Promise<GatewayOutcome> {
    const action = this.requireAction(name);
    const res = await this.exchange(name, vars);
    this.throwUnlessSuccess(name, action, res);
    const outcome = this.outcome(name, action, res, vars);
    if (outcome.status === 'failed') {
      const code = outcome.declineCode ?? 'declined';
      throw this.gatewayError(
        'hard_decline',
        code,
        `${name} declined: ${code}${outcome.message ? ` (${outcome.message})` : ''}`,
        res.status,
      );
    }
    return outcome;
  }

  /** Sends an action's request with auth; on a 401 with refreshable auth, refreshes once and retries. */
  private async exchange(name: ActionName, vars: Vars): Promise<IncomingResponse> {
    const action = this.requireAction(name);
    return sendAuthorized(
      this.outbound,
      buildRequest(this.rt.baseUrl, action, vars),
      `${name} (${action.method} ${action.path})`,
    );
  }

  private throwUnlessSuccess(name: ActionName, action: ActionDefinition, res: IncomingResponse): void {
    if (isSuccess(res.status)) return;
    throw httpFailure(this.outbound, res, `${name} (${action.method} ${action.path})`);
  }

  private outcome(
    name: ActionName,
    action: ActionDefinition,
    res: IncomingResponse,
    vars: Vars,
  ): GatewayOutcome {
    const m = action.response;
    const body = res.body;
    const rawStatus = m.status ? readPath(body, m.status) : undefined;
    let status: GatewayStatus | undefined = m.defaultStatus;
    if (rawStatus !== undefined && rawStatus !== null) {
      const key = String(rawStatus);
      const map = { ...this.def.statusMap, ...action.statusMap };
      status = Object.hasOwn(map, key) ? map[key] : undefined;
      if (!status) {
        // Unknown to the statusMap: we cannot tell what happened, so the workflow asks again later.
        throw this.gatewayError(
          'ambiguous',
          'unmapped_status',
          `${name}: provider status '${key}' is not in statusMap`,
          res.status,
        );
      }
    }
    if (!status)
      throw this.gatewayError(
        'ambiguous',
        'malformed_response',
        `${name}: response has no status`,
        res.status,
      );
    const reference =
      readString(body, m.reference) ??
      (typeof vars['reference'] === 'string' ? vars['reference'] : undefined);
    if (!reference)
      throw this.gatewayError(
        'ambiguous',
        'malformed_response',
        `${name}: response has no reference`,
        res.status,
      );
    const outcome: GatewayOutcome = { status, reference };
    const declineCode = readString(body, m.declineCode);
    const message = readString(body, m.message);
    if (declineCode !== undefined) outcome.declineCode = declineCode;
    if (message !== undefined) outcome.message = message;
    const captured = m.amountCaptured ? readPath(body, m.amountCaptured) : undefined;
    if (typeof captured === 'number' || typeof captured === 'string') {
      outcome.amountCaptured = this.toMinor(
        name,
        captured,
        m.amountUnits,
        readString(body, m.currency) ?? (vars['currency'] as string | undefined),
      );
    }
    return outcome;
  }

  private toMinor(
    name: ActionName,
    value: number | string,
    units: 'minor' | 'major',
    currency: string | undefined,
  ): number {
    try {
      if (units === 'minor') {
        const n = Number(value);
        if (!Number.isSafeInteger(n)) throw new Error(`'${value}' is not an amount in minor units`);
        return currency ? fromGatewayAmount(n, currency, this.def.currencyExceptions) : n;
      }
      if (!currency) throw new Error('amounts in major units need response.currency or a request currency');
      return decimalToMinor(value, currency);
    } catch (err) {
      throw this.gatewayError('ambiguous', 'malformed_response', `${name}: ${(err as Error).message}`);
    }
  }

  private gatewayError(...args: OutboundErrorArgs): GatewayError {
    return outboundError(this.outbound, ...args);
  }
}
