/** Runs the emulated CRM on its own: `tsx emulators/crm/main.ts` (PORT). Any `Bearer crm_...` token is an account. */
import { CrmEmulator } from './emulator.js';

const crm = new CrmEmulator({ port: Number(process.env.PORT ?? 4610) });
const url = await crm.start();
console.log(`CRM emulator on ${url} (Authorization: Bearer crm_<anything>)`);
