import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes, registered on the dev server at start; filter runs by them in the UI. */
export const TenantIdAttr = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const PaymentStatusAttr = defineSearchAttributeKey('PaymentStatus', SearchAttributeType.KEYWORD);
export const GatewayAttr = defineSearchAttributeKey('Gateway', SearchAttributeType.KEYWORD);

export const CUSTOM_SEARCH_ATTRIBUTES = [TenantIdAttr, PaymentStatusAttr, GatewayAttr];
