/**
 * The platform records an ERP feeds: what a mapped row must look like per entity, and its natural
 * key. Validated with zod after mapping, so a row that maps but makes no sense is a dead letter.
 */
import { z } from 'zod';
import { isCurrencyCode } from '../currencies.js';

export const ERP_ENTITIES = ['products', 'prices', 'inventory', 'orders'] as const;
export type ErpEntity = (typeof ERP_ENTITIES)[number];

const sku = z.string().trim().min(1).max(100);
const currency = z.string().refine(isCurrencyCode, 'not an ISO 4217 currency code');
const minor = z.number().int().refine(Number.isSafeInteger, 'amount out of range');

export const productRecord = z.strictObject({
  sku,
  name: z.string().trim().min(1).max(500),
  description: z.string().max(10_000).nullable().default(null),
  active: z.boolean().default(true),
});
export const priceRecord = z.strictObject({
  sku,
  priceList: z.string().trim().min(1).max(100),
  amountMinor: minor.refine((n) => n >= 0, 'a price is not negative'),
  currency,
});
export const inventoryRecord = z.strictObject({
  sku,
  warehouse: z.string().trim().min(1).max(100),
  quantity: z.number().int(),
});
export const orderLineRecord = z.strictObject({
  sku,
  quantity: z.number().int().positive(),
  unitPriceMinor: minor,
});
export const orderRecord = z.strictObject({
  number: z.string().trim().min(1).max(100),
  status: z.string().trim().min(1).max(50),
  currency,
  totalMinor: minor,
  lines: z.array(orderLineRecord).default([]),
  orderedAt: z.iso.datetime({ offset: true }).nullable().default(null),
});

export const ENTITY_RECORD_SCHEMAS = {
  products: productRecord,
  prices: priceRecord,
  inventory: inventoryRecord,
  orders: orderRecord,
} as const;

export type ProductRecord = z.output<typeof productRecord>;
export type PriceRecord = z.output<typeof priceRecord>;
export type InventoryRecord = z.output<typeof inventoryRecord>;
export type OrderRecord = z.output<typeof orderRecord>;
export interface EntityRecords {
  products: ProductRecord;
  prices: PriceRecord;
  inventory: InventoryRecord;
  orders: OrderRecord;
}

/** Target fields a mapping may write, per entity (the record schema's keys). */
export function targetFields(entity: ErpEntity): string[] {
  return Object.keys(ENTITY_RECORD_SCHEMAS[entity].shape);
}

/** Fields an integration's settings can fill in (its warehouse, its price list). */
const FROM_SETTINGS = new Set(['warehouse', 'priceList']);

/** Fields a mapping must write: the record needs them, they have no default and settings cannot give them. */
export function requiredTargetFields(entity: ErpEntity): string[] {
  const shape = ENTITY_RECORD_SCHEMAS[entity].shape as Record<string, z.ZodType>;
  return Object.entries(shape)
    .filter(([name, schema]) => !FROM_SETTINGS.has(name) && !schema.safeParse(undefined).success)
    .map(([name]) => name);
}

/** Natural key of a record within a tenant (what the unique index is on), as one string. */
export function naturalKey<E extends ErpEntity>(entity: E, record: EntityRecords[E]): string {
  switch (entity) {
    case 'products':
      return (record as ProductRecord).sku;
    case 'prices': {
      const r = record as PriceRecord;
      return `${r.sku}|${r.priceList}|${r.currency}`;
    }
    case 'inventory': {
      const r = record as InventoryRecord;
      return `${r.sku}|${r.warehouse}`;
    }
    default:
      return (record as OrderRecord).number;
  }
}

/** The fields of each entity's natural key. */
const KEY_FIELDS: Record<ErpEntity, readonly string[]> = {
  products: ['sku'],
  prices: ['sku', 'priceList', 'currency'],
  inventory: ['sku', 'warehouse'],
  orders: ['number'],
};

/**
 * The natural key of a mapped row that did not validate as a whole, when its key fields do (a dead
 * letter's key: a later valid record with the same key closes it); undefined when a key field is bad.
 */
export function naturalKeyOfFields(entity: ErpEntity, fields: Record<string, unknown>): string | undefined {
  const shape = ENTITY_RECORD_SCHEMAS[entity].shape as Record<string, z.ZodType>;
  const key: Record<string, unknown> = {};
  for (const field of KEY_FIELDS[entity]) {
    const parsed = shape[field]!.safeParse(fields[field]);
    if (!parsed.success) return undefined;
    key[field] = parsed.data;
  }
  return naturalKey(entity, key as unknown as EntityRecords[typeof entity]);
}
