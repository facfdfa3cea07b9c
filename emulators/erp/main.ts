/** Runs the emulated ERP on its own: `tsx emulators/erp/main.ts` (PORT, ERP_SEED_COUNT). */
import { ErpEmulator, seedCatalog } from './emulator.js';

const erp = new ErpEmulator({ port: Number(process.env.PORT ?? 4510) });
seedCatalog(erp, Number(process.env.ERP_SEED_COUNT ?? 200));
const url = await erp.start();
console.log(`ERP emulator on ${url} (user entegrasyon / gizli)`);
