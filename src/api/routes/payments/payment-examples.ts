/**
 * Examples of the payments API as the OpenAPI document shows them (Swagger UI, generated clients).
 * The document is only built when each one passes the schema it illustrates.
 */
const AT = '2026-12-07T10:15:30.000Z';
export const REFUND_EXAMPLE = {
  id: 're_5t8n2k4q7w9x1m3v6p0r',
  object: 'refund',
  paymentId: 'pay_3kq9x7m2v8t4n6p0r5wz',
  amount: 500,
  status: 'succeeded',
  reason: 'requested_by_customer',
  failureMessage: null,
  createdAt: AT,
} as const;
export const PAYMENT_EXAMPLE = {
  id: 'pay_3kq9x7m2v8t4n6p0r5wz',
  object: 'payment',
  status: 'partially_refunded',
  amount: 1050,
  currency: 'EUR',
  country: 'DE',
  paymentMethod: { type: 'card', token: 'pm_card_visa' },
  captureMode: 'automatic',
  customerId: 'cust_8h2kq4m7v9x1t3n5p6rw',
  description: 'Order 1042',
  metadata: { orderId: '1042' },
  amountCaptured: 1050,
  amountRefunded: 500,
  connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
  gatewayReference: 'pi_3QhYk2LkdIwHu7ix0p1Gq3Rt',
  failure: null,
  routing: {
    candidates: [
      {
        connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
        provider: 'stripe',
        ruleId: 'rule_2w6k9m4q8x1t7n3v5p0r',
        rank: 1,
        reason: 'rule "EU cards" (priority 10): currency EUR, country DE; first choice',
      },
    ],
    skipped: [],
    evaluatedRules: [
      {
        ruleId: 'rule_2w6k9m4q8x1t7n3v5p0r',
        matched: true,
        reason: 'currency EUR, country DE; added 1 candidate',
      },
    ],
  },
  attempts: [
    {
      number: 1,
      connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
      provider: 'stripe',
      reason: 'rule "EU cards" (priority 10): currency EUR, country DE; first choice',
      status: 'succeeded',
      errorClass: null,
      errorCode: null,
      unifiedCode: null,
      errorMessage: null,
      gatewayReference: 'pi_3QhYk2LkdIwHu7ix0p1Gq3Rt',
      createdAt: AT,
      updatedAt: AT,
    },
  ],
  refunds: [REFUND_EXAMPLE],
  workflowId: 'payment-pay_3kq9x7m2v8t4n6p0r5wz',
  createdAt: AT,
  updatedAt: AT,
} as const;
