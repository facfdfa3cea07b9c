import { randomBytes } from 'node:crypto';
import { is } from 'drizzle-orm';
import { getTableConfig, jsonb, pgTable, PgTable, text } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import * as schema from '../../src/db/schema.js';
import { sealedCredentials } from '../../src/db/tables/columns.js';
import { CredentialCipher } from '../../src/secrets/credential-cipher.js';
import { SEALED_TABLES, sealedTablesOf } from '../../src/secrets/sealed-columns.js';

/** Names that say a column holds a secret, ciphertext or something sealed. */
const SECRET_NAME = /cipher|encrypt|sealed|secret|credential|token|password|private_?key/i;
/** SQL types a ciphertext (raw, base64 or inside JSON) can be stored in. */
const CAN_HOLD_CIPHERTEXT = /^(bytea|text|varchar|character|char|json|jsonb)\b/;

/** Columns reviewed as holding no ciphertext, with the reason: a new one needs the same review. */
const NOT_CIPHERTEXT: Record<string, string> = {
  'payments.payment_method_token': "the gateway's reference to a payment method (never card data); sent as is to charge",
  'erp_upload_chunks.data': 'an uploaded CSV file as received: catalog data, not credentials',
};

/**
 * Columns of `tables` that look like ciphertext (a bytea column, or a string/JSON column whose name
 * says secret, cipher, credential, token...) but are neither sealed (so re-sealed on rotation), the
 * key id of a sealed column, nor reviewed above.
 */
function uncoveredColumns(tables: Record<string, unknown>): string[] {
  const sealed = sealedTablesOf(tables);
  const covered = new Set(sealed.flatMap((s) => [s.ciphertext, s.keyId]));
  const uncovered: string[] = [];
  for (const table of Object.values(tables)) {
    if (!is(table, PgTable)) continue;
    const { name, columns } = getTableConfig(table);
    for (const column of columns) {
      const type = column.getSQLType();
      const suspect = type === 'bytea' || (SECRET_NAME.test(column.name) && CAN_HOLD_CIPHERTEXT.test(type));
      if (suspect && !covered.has(column) && !NOT_CIPHERTEXT[`${name}.${column.name}`]) uncovered.push(`${name}.${column.name}`);
    }
  }
  return uncovered;
}

describe('encrypted columns', () => {
  it('every column of the schema that holds ciphertext is re-sealed by the reseal command', () => {
    expect(uncoveredColumns(schema)).toEqual([]);
    // The two known today, found by walking the schema (what resealCredentials iterates).
    const found = SEALED_TABLES.map((s) => `${getTableConfig(s.table).name}.${s.ciphertext.name} (${s.keyId.name}, ${s.resourceType})`);
    expect(found).toEqual(
      expect.arrayContaining([
        'connections.credentials_ciphertext (credentials_key_id, connection)',
        'erp_integrations.credentials_ciphertext (credentials_key_id, integration)',
      ]),
    );
    // Every reviewed exception still exists (a stale entry would hide nothing, but misleads).
    const all = Object.values(schema).flatMap((t) => (is(t, PgTable) ? getTableConfig(t).columns.map((c) => `${getTableConfig(t).name}.${c.name}`) : []));
    expect(all).toEqual(expect.arrayContaining(Object.keys(NOT_CIPHERTEXT)));
  });

  it('catches a future table whose ciphertext is a plain column, and registers one declared as sealed', () => {
    const webhookEndpoints = pgTable('webhook_endpoints', {
      id: text('id').primaryKey(),
      tenantId: text('tenant_id').notNull(),
      signingSecret: text('signing_secret').notNull(),
      oauth: jsonb('oauth_tokens'),
    });
    expect(uncoveredColumns({ webhookEndpoints })).toEqual(['webhook_endpoints.signing_secret', 'webhook_endpoints.oauth_tokens']);

    const sealedEndpoints = pgTable('webhook_endpoints', {
      id: text('id').primaryKey(),
      tenantId: text('tenant_id').notNull(),
      signingSecret: sealedCredentials('signing_secret', { storage: 'base64', resourceType: 'webhook_endpoint', keyIdColumn: 'signing_secret_key_id', boundTo: (id) => `whe:${id}` }),
      signingSecretKeyId: text('signing_secret_key_id'),
    });
    expect(uncoveredColumns({ sealedEndpoints })).toEqual([]);
    const [entry] = sealedTablesOf({ sealedEndpoints });
    expect(entry).toMatchObject({ resourceType: 'webhook_endpoint', ciphertext: sealedEndpoints.signingSecret, keyId: sealedEndpoints.signingSecretKeyId, id: sealedEndpoints.id, tenantId: sealedEndpoints.tenantId });
    // The base64 storage round-trips the ciphertext bytes, and the declared binding is what seals it.
    const cipher = new CredentialCipher([{ id: 'k', key: randomBytes(32) }]);
    const sealed = cipher.seal({ secret: 'whsec_x' }, 'ten_1', entry!.boundTo('we_1'));
    const stored = sealedEndpoints.signingSecret.mapToDriverValue(sealed.ciphertext);
    expect(typeof stored).toBe('string');
    expect(cipher.open({ keyId: 'k', ciphertext: sealedEndpoints.signingSecret.mapFromDriverValue(stored) as Buffer }, 'ten_1', 'whe:we_1')).toEqual({ secret: 'whsec_x' });
    expect(() => cipher.open({ keyId: 'k', ciphertext: sealed.ciphertext }, 'ten_1', 'we_1')).toThrow(/failed authentication/);
  });

  it('a sealed column whose table lacks the columns re-sealing needs is refused when the schema loads', () => {
    const broken = pgTable('broken', {
      id: text('id').primaryKey(),
      tenantId: text('tenant_id').notNull(),
      secret: sealedCredentials('secret', { storage: 'bytea', resourceType: 'broken', keyIdColumn: 'secret_key_id', boundTo: (id) => id }),
    });
    expect(() => sealedTablesOf({ broken })).toThrow('table broken has a sealed column but no secret_key_id column');
  });
});
