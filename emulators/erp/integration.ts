import { ERP_TIME_FORMAT, ERP_ZONE } from './emulator.js';

const turkishNumber = { type: 'number', decimalSeparator: ',', thousandsSeparator: '.' } as const;

/** A REST integration with the emulated ERP (products, prices, stock), as a tenant would post it to /v1/integrations. */
export function defterIntegration(erpUrl: string, pageSize = 25, intervalSeconds = 3600) {
  const incremental = { cursorField: 'GuncellemeTarihi', format: ERP_TIME_FORMAT, zone: ERP_ZONE, keyField: 'StokKodu', param: 'guncellemeSonrasi' };
  const stream = (path: string) => ({
    path,
    query: { adet: String(pageSize) },
    recordPath: 'kayitlar',
    pagination: { type: 'cursor', cursorPath: 'sonrakiImlec', param: 'imlec' },
    incremental,
  });
  return {
    name: 'Defter ERP',
    type: 'hybrid',
    connector: {
      type: 'rest',
      baseUrl: '{{settings.baseUrl}}',
      auth: { type: 'oauth2_password', tokenUrl: '/oauth/token', username: '{{credentials.username}}', password: '{{credentials.password}}' },
      streams: { products: stream('/api/v1/urunler'), prices: stream('/api/v1/fiyatlar'), inventory: stream('/api/v1/stoklar') },
    },
    credentials: { username: 'entegrasyon', password: 'gizli', webhookSecret: 'whsec_test' },
    settings: { baseUrl: erpUrl, priceList: 'retail', warehouse: 'MERKEZ', intervalSeconds },
    mappings: {
      products: [
        { sourceField: 'StokKodu', targetField: 'sku', required: true },
        { sourceField: 'UrunAdi', targetField: 'name', transformation: 'trim', required: true },
        { sourceField: 'Aciklama', targetField: 'description' },
        { sourceField: 'Aktif', targetField: 'active', transformation: { type: 'boolean' } },
      ],
      prices: [
        { sourceField: 'StokKodu', targetField: 'sku', required: true },
        { sourceField: 'Fiyat', targetField: 'amountMinor', transformation: [turkishNumber, { type: 'minorUnits', currencyField: 'ParaBirimi' }] },
        { sourceField: 'ParaBirimi', targetField: 'currency' },
      ],
      inventory: [
        { sourceField: 'StokKodu', targetField: 'sku', required: true },
        { sourceField: 'Miktar', targetField: 'quantity', transformation: { type: 'integer', thousandsSeparator: '.' }, required: true },
      ],
    },
  };
}
