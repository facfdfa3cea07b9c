/** Runs Strata CRM on its own: `tsx emulators/stratacrm/main.ts` (PORT). Prints a demo client's OAuth credentials. */
import { StrataCrmEmulator } from './emulator.js';

const crm = new StrataCrmEmulator({ port: Number(process.env.PORT ?? 4630) });
const url = await crm.start();
const { clientId, clientSecret, refreshToken } = crm.addClient();
console.log(`Strata CRM emulator on ${url} (client_id ${clientId}, client_secret ${clientSecret}, refresh_token ${refreshToken})`);
