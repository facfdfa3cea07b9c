import { z } from 'zod';
import { REGIONS } from './regions.js';
import { PAYMENT_METHOD_TYPES } from './routing.js';

// Kept apart from routing.ts: the payment workflow imports the routing decision, and zod has no
// place in the workflow sandbox (building these schemas there cost CPU on every workflow thread).

const countryCode = z.string().regex(/^[A-Z]{2}$/, 'expected an upper-case ISO 3166-1 alpha-2 code');
const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'expected an upper-case ISO 4217 code');
const minorUnits = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * Shape of a routing rule as a client submits it (the id is assigned by the server). Unknown keys
 * are refused: a misspelt condition would otherwise vanish and leave a rule that matches everything.
 * Meaning (known codes and connections, impossible conditions) is checked by `validateRuleSet`.
 */
export const routingRuleInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  priority: z.number().int().min(0).max(1_000_000),
  enabled: z.boolean().default(true),
  conditions: z
    .strictObject({
      countries: z.array(countryCode).optional(),
      regions: z.array(z.enum(REGIONS)).optional(),
      currencies: z.array(currencyCode).optional(),
      minAmount: minorUnits.optional(),
      maxAmount: minorUnits.optional(),
      paymentMethods: z.array(z.enum(PAYMENT_METHOD_TYPES)).optional(),
    })
    .default({}),
  connectionIds: z.array(z.string().min(1)),
});
export type RoutingRuleInput = z.infer<typeof routingRuleInputSchema>;
