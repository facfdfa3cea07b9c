/** Examples of the trial routes (OpenAPI): a list page of the Nimbus CRM (providers/democrm.yaml) as it answers. */
export const PROVIDER_TRY_EXAMPLE = {
  connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
  action: 'list',
  input: {},
};

export const PROVIDER_TRY_OUT_EXAMPLE = {
  action: 'list',
  exchanges: [
    {
      request: {
        method: 'GET',
        url: 'https://api.nimbuscrm.example/api/v2/contacts?page_size=100',
        headers: { accept: 'application/json', authorization: '***' },
      },
      response: {
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: {
          contacts: [
            {
              id: 'ct_000001',
              external_ref: 'cus_4f9k2m7x1q8v3t6p0r5w',
              full_name: 'Ada Lovelace',
              emails: [{ value: 'ada@example.com', primary: true }],
              phones: [{ number: '+44 20 7946 0000', kind: 'work' }],
              postal_address: null,
              notes: null,
              custom_fields: {},
              lifecycle_stage: 'customer',
              created_at: '2026-12-07T10:15:30.000Z',
              updated_at: '2026-12-07T10:15:30.000Z',
              archived_at: null,
            },
          ],
          next_page_token: null,
          has_more: false,
        },
        truncated: false,
      },
    },
  ],
  result: {
    customers: [
      {
        remoteId: 'ct_000001',
        localId: 'cus_4f9k2m7x1q8v3t6p0r5w',
        deleted: false,
        fields: {
          email: 'ada@example.com',
          name: 'Ada Lovelace',
          phone: '+44 20 7946 0000',
          description: null,
          address: null,
          metadata: {},
        },
      },
    ],
    cursor: null,
  },
};

export const INTEGRATION_TRY_EXAMPLE = { entity: 'products' };

export const INTEGRATION_TRY_OUT_EXAMPLE = {
  entity: 'products',
  exchanges: [
    {
      request: {
        method: 'GET',
        url: 'https://erp.example.com/api/items?limit=100',
        headers: { accept: 'application/json', authorization: '***' },
      },
      response: {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: { items: [{ code: 'SKU-1', title: 'Espresso beans 1 kg', price: '18,90', updated: '07.12.2026 11:15:30' }], next: 'c2' },
        truncated: false,
      },
    },
  ],
  next: 'c2',
  count: 1,
  records: [
    {
      raw: { code: 'SKU-1', title: 'Espresso beans 1 kg', price: '18,90', updated: '07.12.2026 11:15:30' },
      ok: true,
      record: { sku: 'SKU-1', name: 'Espresso beans 1 kg' },
    },
  ],
};
