import type { AddressInfo } from 'node:net';
import { createStripeEmulator, type StripeEmulator, type StripeEmulatorOptions } from './emulator.js';

export interface RunningStripeEmulator extends Omit<StripeEmulator, 'shutdown'> {
  /** e.g. `http://127.0.0.1:43121`; pass it as the Stripe adapter's `apiUrl`. */
  url: string;
  port: number;
  /** Stops deliveries and timers, drops open connections and closes the server. */
  close(): Promise<void>;
}

/** Starts the emulator on 127.0.0.1 (`port` 0 or absent: a free port). */
export async function startStripeEmulator(
  options: StripeEmulatorOptions & { port?: number } = {},
): Promise<RunningStripeEmulator> {
  const { port: requestedPort = 0, ...emulatorOptions } = options;
  const emulator = createStripeEmulator(emulatorOptions);
  const server = emulator.app.listen(requestedPort, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const { shutdown, ...handle } = emulator;
  return {
    ...handle,
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      shutdown();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
