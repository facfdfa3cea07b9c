/**
 * The start-up upgrade of stored definitions: rows written in format version 1 directly in SQL (as an
 * older release stored them) are rewritten to version 2 by the pass that runs after the migrations,
 * once even when several processes start together, and they parse to definitions that behave the same.
 */
import postgres from 'postgres';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { defterIntegration } from '../../emulators/erp/integration.js';
import { connectPostgres } from '../../src/db/client.js';
import { providerDefinitionSchema } from '../../src/providers/declarative/index.js';
import { connectorSchema } from '../../src/providers/erp/connector-definition.js';
import { upgradeStoredDefinitions } from '../../src/stores/definition-format-upgrade.js';

const NAME = 'switchyard_format_upgrade_check';
const admin = () => postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });
const root = join(import.meta.dirname, '..', '..');
const v1Democrm = parseYaml(readFileSync(join(root, 'test/fixtures/format-v1/democrm.yaml'), 'utf8')) as Record<string, unknown>;
const v1Defter = defterIntegration('http://erp.example').connector;

afterAll(async () => {
  const a = admin();
  await a.unsafe(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
  await a.end();
});

describe('stored definitions in format version 1', () => {
  it('are upgraded to version 2 at start-up, once, in one transaction per pass', async () => {
    const a = admin();
    await a.unsafe(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
    await a.unsafe(`CREATE DATABASE ${NAME}`);
    await a.end();
    const url = inject('adminDatabaseUrl').replace(/\/[^/]*$/, `/${NAME}`);
    const processes = Array.from({ length: 3 }, () => connectPostgres(url, { poolSize: 2 }));
    const sqlc = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await processes[0]!.migrate();
      const updatedAt = new Date('2026-01-01T00:00:00Z');
      await sqlc`insert into tenants (id, name) values ('ten_old', 'Old')`;
      await sqlc`insert into provider_definitions (tenant_id, name, definition, updated_at) values ('ten_old', 'democrm', ${sqlc.json(v1Democrm as never)}, ${updatedAt})`;
      await sqlc`insert into provider_definitions (tenant_id, name, definition) values ('ten_old', 'already', ${sqlc.json({ ...v1Democrm, name: 'already', formatVersion: 2, webhook: undefined } as never)})`;
      await sqlc`insert into erp_integrations (id, tenant_id, name, type, connector, mappings) values ('int_old', 'ten_old', 'Defter', 'polling', ${sqlc.json(v1Defter as never)}, '{}'::jsonb)`;

      // Three processes start together: one pass upgrades the rows, the others find nothing left.
      const results = await Promise.all(processes.map((p) => upgradeStoredDefinitions(p.db)));
      expect(results.map((r) => r.providerDefinitions + r.erpConnectors).sort()).toEqual([0, 0, 2]);

      const [definition] = await sqlc<{ definition: Record<string, unknown>; updated_at: Date }[]>`select definition, updated_at from provider_definitions where name = 'democrm'`;
      expect(definition!.definition.formatVersion).toBe(2);
      expect(JSON.stringify(definition!.definition)).not.toContain('"scheme"');
      expect(definition!.updated_at.toISOString()).toBe(updatedAt.toISOString());
      expect({ ...providerDefinitionSchema.parse(definition!.definition), formatVersion: undefined }).toEqual({
        ...providerDefinitionSchema.parse(v1Democrm),
        formatVersion: undefined,
      });

      const [integration] = await sqlc<{ connector: { formatVersion: number; streams: Record<string, { incremental: Record<string, unknown> }> } }[]>`select connector from erp_integrations where id = 'int_old'`;
      expect(integration!.connector.formatVersion).toBe(2);
      for (const stream of Object.values(integration!.connector.streams)) {
        expect(stream.incremental.param).toBeUndefined();
        expect(stream.incremental.request).toEqual({ param: 'guncellemeSonrasi', format: 'dd.MM.yyyy HH:mm:ss', zone: 'Europe/Istanbul' });
      }
      expect(connectorSchema.safeParse(integration!.connector).success).toBe(true);

      const [record] = await sqlc<{ rows_changed: number }[]>`select rows_changed from data_upgrades where name = 'definition-format-v2'`;
      expect(record!.rows_changed).toBe(2);
      expect(await upgradeStoredDefinitions(processes[0]!.db)).toEqual({ providerDefinitions: 0, erpConnectors: 0 });
    } finally {
      await sqlc.end();
      await Promise.all(processes.map((p) => p.close()));
    }
  });
});
