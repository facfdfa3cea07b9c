/**
 * REST paging throughput against the emulated ERP: fetch (OAuth2 password grant, cursor pages of
 * 500) and map + validate every record, without the database. `npx tsx bench/erp-rest-paging.ts [rows]`
 */
import { ErpEmulator, seedCatalog } from '../emulators/erp/emulator.js';
import { defterIntegration } from '../emulators/erp/integration.js';
import { compileMapping } from '../src/domain/erp/mapping.js';
import { TokenCache } from '../src/providers/declarative/outbound-auth.js';
import { connectorSchema, createErpSource } from '../src/providers/erp/index.js';

const rows = Number(process.argv[2] ?? 50_000);
const erp = new ErpEmulator({ tokenTtlSeconds: 60 });
seedCatalog(erp, rows);
const url = await erp.start();
const body = defterIntegration(url, 500);
const source = createErpSource(connectorSchema.parse(body.connector), {
  tenantId: 'bench',
  integrationId: 'bench',
  credentials: body.credentials,
  settings: body.settings,
  fetch: (...args) => fetch(...args),
  urlPolicy: { allowPrivateNetworks: true },
  tokenCache: new TokenCache(),
});
const mapping = compileMapping('prices', body.mappings.prices, { priceList: 'retail' });
const started = performance.now();
let read = 0;
let valid = 0;
let pages = 0;
for await (const page of source.pages('prices', null)) {
  pages += 1;
  for (const record of page.records) {
    read += 1;
    if (mapping.map(record).ok) valid += 1;
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(`${read} records (${valid} valid) in ${pages} pages: ${seconds.toFixed(2)} s, ${Math.round(read / seconds)} records/s, peak RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`);
await erp.stop();
