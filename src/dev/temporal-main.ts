import path from 'node:path';
import { startTemporalDevServer } from './temporal-dev-server.js';

/**
 * `npm run temporal`: only the Temporal dev server (gRPC :7233, UI :8233, SQLite in the data folder,
 * search attributes registered), for running `npm run api` and `npm run worker` as separate processes.
 */
const dataDir = path.resolve(process.env.DATA_DIR || '.data');
const server = await startTemporalDevServer({ port: 7233, uiPort: 8233, dbFilename: path.join(dataDir, 'temporal', 'temporal.sqlite') });
console.log(`Temporal dev server on ${server.address} (UI http://127.0.0.1:8233) using ${server.source}. Ctrl+C stops it.`);
const stop = () => void server.stop().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
