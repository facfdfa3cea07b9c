/**
 * Runs the Stripe emulator as its own process (for the demo and manual testing):
 *   tsx emulators/stripe/main.ts
 * Settings come from the environment, checked once here.
 */
import { z } from 'zod';
import { startStripeEmulator } from './server.js';

const env = z
  .object({
    STRIPE_EMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(12111),
    STRIPE_EMULATOR_API_KEYS: z
      .string()
      .optional()
      .transform((keys) =>
        keys
          ?.split(',')
          .map((k) => k.trim())
          .filter(Boolean),
      ),
    STRIPE_EMULATOR_WEBHOOK_URL: z.url().optional(),
    STRIPE_EMULATOR_WEBHOOK_SECRET: z.string().startsWith('whsec_').optional(),
    STRIPE_EMULATOR_WEBHOOK_DELAY_MS: z.coerce.number().int().min(0).default(0),
    STRIPE_EMULATOR_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
    /** Keeps the objects across restarts in this JSON file (default: in memory only). */
    STRIPE_EMULATOR_STATE_FILE: z.string().min(1).optional(),
  })
  .safeParse(process.env);

if (!env.success) {
  console.error(`Invalid Stripe emulator settings:\n${z.prettifyError(env.error)}`);
  process.exit(1);
}

const settings = env.data;
const emulator = await startStripeEmulator({
  port: settings.STRIPE_EMULATOR_PORT,
  ...(settings.STRIPE_EMULATOR_API_KEYS ? { apiKeys: settings.STRIPE_EMULATOR_API_KEYS } : {}),
  ...(settings.STRIPE_EMULATOR_WEBHOOK_URL ? { webhookUrl: settings.STRIPE_EMULATOR_WEBHOOK_URL } : {}),
  ...(settings.STRIPE_EMULATOR_WEBHOOK_SECRET
    ? { webhookSecret: settings.STRIPE_EMULATOR_WEBHOOK_SECRET }
    : {}),
  webhookDelayMs: settings.STRIPE_EMULATOR_WEBHOOK_DELAY_MS,
  ...(settings.STRIPE_EMULATOR_STATE_FILE ? { stateFile: settings.STRIPE_EMULATOR_STATE_FILE } : {}),
});
if (settings.STRIPE_EMULATOR_FAILURE_RATE > 0) emulator.setFailureRate(settings.STRIPE_EMULATOR_FAILURE_RATE);

console.log(`Stripe emulator listening on ${emulator.url}`);
if (settings.STRIPE_EMULATOR_WEBHOOK_URL) {
  console.log(`Delivering every event to ${settings.STRIPE_EMULATOR_WEBHOOK_URL}`);
}

const shutdown = () => {
  emulator.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
