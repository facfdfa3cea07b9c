/**
 * Amounts in a gateway's own units. Switchyard stores every amount in ISO 4217 minor units
 * (regions.ts); a gateway may count some currencies differently (Stripe: MGA has no decimals, ISK
 * keeps two). Each connector declares its exceptions as data; this converts both ways, exactly
 * (integer arithmetic), and refuses an amount the gateway cannot represent instead of rounding money.
 */
import { currencyExponent } from '../currencies.js';

/** How a gateway counts one currency, where it differs from ISO 4217. */
export interface CurrencyUnit {
  /** Decimal places of the gateway's amount unit (ISO: 2 for MGA; Stripe: 0). */
  exponent: number;
  /** The gateway refuses amounts (in its own units) that are not a multiple of this, e.g. 100 for ISK at Stripe. */
  multipleOf?: number;
}

/** Currency code (upper case) → the gateway's unit for it; currencies not listed follow ISO 4217. */
export type CurrencyUnits = Readonly<Record<string, CurrencyUnit>>;

/** The amount cannot be expressed in the gateway's units without changing it. */
export class AmountNotRepresentableError extends Error {
  override readonly name = 'AmountNotRepresentableError';
}

function unitOf(
  currency: string,
  units: CurrencyUnits,
): { iso: number; gateway: number; multipleOf: number } {
  const code = currency.toUpperCase();
  const iso = currencyExponent(code);
  const declared = Object.hasOwn(units, code) ? units[code] : undefined;
  return { iso, gateway: declared?.exponent ?? iso, multipleOf: declared?.multipleOf ?? 1 };
}

/** ISO minor units → the gateway's units; throws AmountNotRepresentableError when that would round. */
export function toGatewayAmount(isoMinor: number, currency: string, units: CurrencyUnits): number {
  const { iso, gateway, multipleOf } = unitOf(currency, units);
  let amount: number;
  if (gateway >= iso) {
    amount = isoMinor * 10 ** (gateway - iso);
  } else {
    const divisor = 10 ** (iso - gateway);
    if (isoMinor % divisor !== 0) {
      throw new AmountNotRepresentableError(
        `${isoMinor} ${currency.toUpperCase()} minor units has a fraction the gateway cannot take (it counts ${gateway} decimals)`,
      );
    }
    amount = isoMinor / divisor;
  }
  if (!Number.isSafeInteger(amount)) throw new AmountNotRepresentableError(`amount ${isoMinor} is too large`);
  if (amount % multipleOf !== 0) {
    throw new AmountNotRepresentableError(
      `the gateway takes ${currency.toUpperCase()} amounts in multiples of ${multipleOf} of its units; ${amount} is not`,
    );
  }
  return amount;
}

/** The gateway's units → ISO minor units (what it reports back, e.g. an amount captured). */
export function fromGatewayAmount(gatewayAmount: number, currency: string, units: CurrencyUnits): number {
  const { iso, gateway } = unitOf(currency, units);
  if (gateway <= iso) return gatewayAmount * 10 ** (iso - gateway);
  const divisor = 10 ** (gateway - iso);
  // A gateway that keeps extra decimals reports whole ISO units; anything else is truncated towards zero.
  return Math.trunc(gatewayAmount / divisor);
}

/** Decimal places of the gateway's unit for a currency (for rendering decimal strings). */
export function gatewayExponent(currency: string, units: CurrencyUnits): number {
  return unitOf(currency, units).gateway;
}
