/**
 * A small declarative card gateway, as the OpenAPI document shows the body of PUT /v1/providers/{name}
 * (providers/*.yaml are complete ones). The document is only built when it passes the definition schema.
 */
export const PROVIDER_DEFINITION_EXAMPLE = {
  name: 'examplepay',
  displayName: 'ExamplePay',
  version: '1.0.0',
  baseUrl: "{{settings.baseUrl | default:'https://api.examplepay.example'}}",
  credentials: [{ name: 'apiKey', description: 'Secret API key' }],
  settings: [{ name: 'baseUrl', description: 'Override the API base URL (sandbox)' }],
  auth: { type: 'bearer', token: '{{credentials.apiKey}}' },
  statusMap: { AUTHORIZED: 'authorized', CAPTURED: 'succeeded', DECLINED: 'failed' },
  errors: {
    codePath: 'error.code',
    messagePath: 'error.message',
    rules: [{ code: 'insufficient_funds', classification: 'hard_decline' }],
  },
  capabilities: {
    currencies: ['EUR', 'USD'],
    countries: ['DE', 'FR', 'US'],
    paymentMethods: ['card'],
    captureModes: ['automatic'],
  },
  actions: {
    authorize: {
      method: 'POST',
      path: '/v1/payments',
      idempotencyHeader: 'Idempotency-Key',
      body: {
        encoding: 'json',
        template: {
          amount: '{{amount}}',
          currency: '{{currency}}',
          token: '{{paymentMethod.token}}',
          reference: '{{paymentId}}',
        },
      },
      response: { reference: 'id', status: 'status' },
    },
    status: {
      method: 'GET',
      path: '/v1/payments/{{reference}}',
      response: { reference: 'id', status: 'status' },
    },
  },
};
