import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes, registered on the dev server at start; filter runs by them in the UI. */
export const TenantIdAttr = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const PaymentStatusAttr = defineSearchAttributeKey('PaymentStatus', SearchAttributeType.KEYWORD);
export const GatewayAttr = defineSearchAttributeKey('Gateway', SearchAttributeType.KEYWORD);

export const CustomerIdAttr = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);
/** A customer's sync state across its connected systems: pending, in_sync or failed. */
export const SyncStateAttr = defineSearchAttributeKey('SyncState', SearchAttributeType.KEYWORD);
export const IntegrationIdAttr = defineSearchAttributeKey('IntegrationId', SearchAttributeType.KEYWORD);
export const SyncStatusAttr = defineSearchAttributeKey('SyncStatus', SearchAttributeType.KEYWORD);

/** The webhook endpoint a delivery run sends to. */
export const EndpointIdAttr = defineSearchAttributeKey('EndpointId', SearchAttributeType.KEYWORD);
/** The type of the event a delivery run is sending now (or sent last), e.g. `payment.succeeded`. */
export const EventTypeAttr = defineSearchAttributeKey('EventType', SearchAttributeType.KEYWORD);

export const CUSTOM_SEARCH_ATTRIBUTES = [
  TenantIdAttr,
  PaymentStatusAttr,
  GatewayAttr,
  CustomerIdAttr,
  SyncStateAttr,
  IntegrationIdAttr,
  SyncStatusAttr,
  EndpointIdAttr,
  EventTypeAttr,
];

/** The search attributes every run of an ERP integration carries (polls, webhook applies, replays). */
export function integrationSearchAttributes(tenantId: string, integrationId: string) {
  return [
    { key: TenantIdAttr, value: tenantId },
    { key: IntegrationIdAttr, value: integrationId },
  ];
}
