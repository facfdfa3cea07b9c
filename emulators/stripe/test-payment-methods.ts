/**
 * Stripe's test-mode PaymentMethod tokens and what confirming a PaymentIntent with each does.
 * See https://docs.stripe.com/testing. `pm_emulator_processing` is the emulator's own: the intent
 * sits in `processing` and settles to success later (like an asynchronous payment method).
 */

export type CardBehaviour =
  | { kind: 'succeed' }
  | { kind: 'decline'; code: 'card_declined'; declineCode: string; message: string }
  | { kind: 'requires_action' }
  | { kind: 'processing' };

export interface TestCard {
  brand: string;
  last4: string;
  funding: 'credit' | 'debit';
  fingerprint: string;
  behaviour: CardBehaviour;
}

const TEST_CARDS: Record<string, TestCard> = {
  pm_card_visa: {
    brand: 'visa',
    last4: '4242',
    funding: 'credit',
    fingerprint: 'Xt5EWLLDS7FJjR1c',
    behaviour: { kind: 'succeed' },
  },
  pm_card_mastercard: {
    brand: 'mastercard',
    last4: '4444',
    funding: 'credit',
    fingerprint: 'mQbSGz5F4bcLtHdB',
    behaviour: { kind: 'succeed' },
  },
  pm_card_chargeDeclined: {
    brand: 'visa',
    last4: '0002',
    funding: 'credit',
    fingerprint: 'Rv6vCRxGTqLG3hQN',
    behaviour: {
      kind: 'decline',
      code: 'card_declined',
      declineCode: 'generic_decline',
      message: 'Your card was declined.',
    },
  },
  pm_card_chargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '9995',
    funding: 'credit',
    fingerprint: 'pWeTqWGm4VfZ1A0D',
    behaviour: {
      kind: 'decline',
      code: 'card_declined',
      declineCode: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
    },
  },
  pm_card_threeDSecureRequired: {
    brand: 'visa',
    last4: '3220',
    funding: 'credit',
    fingerprint: 'K5v7ZLPsL1Nr2m6g',
    behaviour: { kind: 'requires_action' },
  },
  pm_emulator_processing: {
    brand: 'visa',
    last4: '4242',
    funding: 'credit',
    fingerprint: 'Xt5EWLLDS7FJjR1c',
    behaviour: { kind: 'processing' },
  },
};

/** Any other `pm_...` behaves like a Visa that succeeds. */
export function testCardFor(paymentMethod: string): TestCard {
  return (
    TEST_CARDS[paymentMethod] ?? {
      brand: 'visa',
      last4: '4242',
      funding: 'credit',
      fingerprint: 'Xt5EWLLDS7FJjR1c',
      behaviour: { kind: 'succeed' },
    }
  );
}
