import { newId, unixNow } from './ids.js';

/** `address` as Stripe serialises it (every part present, null when unset). */
export interface AddressObject {
  city: string | null;
  country: string | null;
  line1: string | null;
  line2: string | null;
  postal_code: string | null;
  state: string | null;
}

/** A Customer as the 2022-04-12 spec's `customer` schema describes it (no expansions). */
export interface CustomerObject {
  id: string;
  object: 'customer';
  address: AddressObject | null;
  balance: number;
  created: number;
  currency: null;
  default_source: null;
  delinquent: boolean;
  description: string | null;
  discount: null;
  email: string | null;
  invoice_prefix: string;
  invoice_settings: { custom_fields: null; default_payment_method: null; footer: null };
  livemode: boolean;
  metadata: Record<string, string>;
  name: string | null;
  next_invoice_sequence: number;
  phone: string | null;
  preferred_locales: string[];
  shipping: null;
  tax_exempt: 'none';
  test_clock: null;
}

export interface DeletedCustomerObject {
  id: string;
  object: 'customer';
  deleted: true;
}

/** The writable fields of a customer, already coerced from form values ('' = unset). */
export interface CustomerInput {
  email?: string | null;
  name?: string | null;
  phone?: string | null;
  description?: string | null;
  address?: AddressObject | null;
  metadata: Record<string, string>;
}

/** A customer to seed in bulk (no request, no event): the writable fields, all optional. */
export type CustomerSeed = Partial<CustomerInput>;

export function buildCustomer(input: CustomerInput): CustomerObject {
  const id = newId('cus', 14);
  return {
    id,
    object: 'customer',
    address: input.address ?? null,
    balance: 0,
    created: unixNow(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: input.description ?? null,
    discount: null,
    email: input.email ?? null,
    invoice_prefix: id.slice(4, 12).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null },
    livemode: false,
    metadata: input.metadata,
    name: input.name ?? null,
    next_invoice_sequence: 1,
    phone: input.phone ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}
