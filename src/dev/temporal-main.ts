import path from 'node:path';
import { parseEnv, temporalServerSchema } from '../config/env.js';
import { startTemporalDevServer } from './temporal-dev-server.js';

/**
 * `npm run temporal`: only the Temporal dev server (SQLite in the data folder, search attributes
 * registered), for running `npm run api` and `npm run worker` as separate processes. It serves on the
 * port of TEMPORAL_ADDRESS (default :7233) and the UI on the port of TEMPORAL_UI_URL (default :8233), so
 * one environment serves all three processes. It runs until SIGINT or SIGTERM.
 */
const env = parseEnv(temporalServerSchema, process.env);
const dataDir = path.resolve(env.DATA_DIR);
const port = Number(/:(\d{1,5})$/.exec(env.TEMPORAL_ADDRESS)?.[1]);
const uiPort = Number(new URL(env.TEMPORAL_UI_URL).port || 80);
if (!port) {
  console.error(`TEMPORAL_ADDRESS=${env.TEMPORAL_ADDRESS} should look like host:port (e.g. 127.0.0.1:7233)`);
  process.exit(1);
}

const server = await startTemporalDevServer({ port, uiPort, dbFilename: path.join(dataDir, 'temporal', 'temporal.sqlite'), cli: env.TEMPORAL_CLI });
// The server is a child of the SDK's native runtime, which holds nothing on Node's event loop: without
// a handle of our own, Node exits once start-up is done and the server goes with it.
const keepAlive = setInterval(() => {}, 2 ** 30);
console.log(`Temporal dev server on ${server.address} (UI http://127.0.0.1:${uiPort}) using ${server.source}. Ctrl+C stops it.`);

let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping the Temporal dev server`);
  server.stop().then(
    () => {
      clearInterval(keepAlive);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(`could not stop the Temporal dev server cleanly: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
process.once('SIGINT', () => stop('SIGINT'));
process.once('SIGTERM', () => stop('SIGTERM'));
