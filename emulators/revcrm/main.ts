/** Runs RevCRM on its own: `tsx emulators/revcrm/main.ts` (PORT). Prints the demo account's two headers. */
import { RevCrmEmulator } from './emulator.js';

const crm = new RevCrmEmulator({ port: Number(process.env.PORT ?? 4620) });
const url = await crm.start();
const { accountId, apiKey } = crm.addAccount('acc_demo', 'rk_demo_key');
console.log(`RevCRM emulator on ${url} (X-Account-Id: ${accountId}, X-Api-Key: ${apiKey})`);
