import { ConfigError } from './config/env.js';
import { createLogger, type Logger } from './logger.js';

export interface RetryPolicy {
  attempts: number;
  delayMs: number;
}

/** Raised when a dependency stayed unreachable through every start-up attempt. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** The first line of an error's message, for one-line start-up logs (driver messages can run long). */
function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.replace(/:[^:@/]+@/g, ':***@');
}

/**
 * Retries a start-up step (database, Temporal) while its dependency comes up, with one clear log line
 * per failed attempt, instead of exiting with a stack trace on the first refusal. Bounded, so a
 * deployment with a wrong address still fails, naming what it waited for.
 */
export async function retryAtStart<T>(what: string, step: () => Promise<T>, policy: RetryPolicy, logger: Logger): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (attempt >= policy.attempts) {
        throw new StartupError(`${what} still unreachable after ${attempt} attempts: ${firstLine(err)}`, { cause: err });
      }
      logger.warn(`waiting for ${what}`, { attempt, of: policy.attempts, retryInMs: policy.delayMs, reason: firstLine(err) });
      await new Promise((resolve) => setTimeout(resolve, policy.delayMs));
    }
  }
}

/**
 * Runs an entry point. A configuration or start-up failure is one log line naming the problem and
 * exit code 1; anything else is logged with its stack (that one is a bug).
 */
export function runEntryPoint(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const logger = createLogger('info', { process: name });
    if (err instanceof ConfigError || err instanceof StartupError) logger.error(`${name} cannot start: ${err.message}`);
    else logger.error(`${name} crashed`, { err });
    process.exitCode = 1;
    // Connections still open (a half-made pool) would keep the process alive.
    setTimeout(() => process.exit(1), 1_000).unref();
  });
}
