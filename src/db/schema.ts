/** The whole database schema: one module per family under tables/, re-exported here for drizzle and callers. */
export * from './tables/core.js';
export * from './tables/payments.js';
export * from './tables/tenancy.js';
export * from './tables/customers.js';
export * from './tables/circuit.js';
export * from './tables/erp.js';
export * from './tables/erp-uploads.js';
export * from './tables/payment-counts.js';
export * from './tables/events.js';
