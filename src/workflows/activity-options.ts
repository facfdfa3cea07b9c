import type { ActivityOptions } from '@temporalio/workflow';

/** Retry presets, in one place so the retry behaviour of every call is visible. */

/** Quick calls to a provider to check something (credentials, health). */
export const providerCheck = {
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
} as const satisfies ActivityOptions;
