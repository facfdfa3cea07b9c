import { z } from 'zod';

/** A Stripe connection's credentials, as stored (encrypted) on the connection. */
export const stripeCredentialsSchema = z.object({
  secretKey: z
    .string({
      error: (iss) => (iss.input === undefined ? 'secretKey is required' : 'secretKey must be a string'),
    })
    .startsWith('sk_', { error: 'secretKey must be a Stripe secret key (sk_test_... or sk_live_...)' }),
  webhookSecret: z
    .string({ error: 'webhookSecret must be a string' })
    .startsWith('whsec_', { error: 'webhookSecret must be a Stripe webhook signing secret (whsec_...)' })
    .optional(),
});

export type StripeCredentials = z.output<typeof stripeCredentialsSchema>;
