import { sql } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/customers-fixture.js';
import { anySessionAlive, holdLock, sessionsWaitingOnLock } from '../support/locks.js';
import { startWorkerProcess } from '../support/processes.js';
import {
  createIntegration,
  readCatalog,
  restIntegrationBody,
  startErpFixture,
  startSync,
  waitForRun,
  type ErpFixture,
} from './erp-fixture.js';

let f: ErpFixture;

beforeAll(async () => {
  f = await startErpFixture({ startWorker: false });
});
afterAll(async () => {
  await f?.close();
});

/** The prices mapping with a decimal point, which the letter below needs. */
const fixedPrices = [
  { sourceField: 'StokKodu', targetField: 'sku', required: true },
  {
    sourceField: 'Fiyat',
    targetField: 'amountMinor',
    transformation: [
      { type: 'number', decimalSeparator: '.' },
      { type: 'minorUnits', currencyField: 'ParaBirimi' },
    ],
  },
  { sourceField: 'ParaBirimi', targetField: 'currency' },
];

describe('a worker killed in the middle of a dead-letter replay', () => {
  it('is replaced, and the letters are applied and marked replayed exactly once', async () => {
    const { stack, erp } = f;
    const db = stack.database.db;
    const t = await stack.createTenant('Replay crash tenant');
    const body = restIntegrationBody(erp.url, 50);
    const id = await createIntegration(stack, t.auth, body);
    erp.put(
      'fiyatlar',
      { StokKodu: 'REPLAY-1', FiyatListesi: 'P', Fiyat: '12.5', ParaBirimi: 'TRY' },
      Date.UTC(2026, 6, 1),
    );
    const child = await startWorkerProcess(stack);

    // A sync leaves the dot-decimal price as a dead letter; the tenant then fixes the mapping.
    const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'prices', 'full'));
    expect(run.status).toBe('succeeded');
    const openLetters = async () =>
      (await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200)).body
        .data as { raw: Record<string, string> }[];
    expect((await openLetters()).map((l) => l.raw.StokKodu)).toEqual(['REPLAY-1']);
    await request(stack.app)
      .patch(`/v1/integrations/${id}`)
      .set(t.auth)
      .send({ mappings: { ...body.mappings, prices: fixedPrices } })
      .expect(200);

    // The replay's one transaction has locked the letter and waits on its catalog write: kill the worker there.
    const releaseLock = await holdLock(db, sql.raw('lock table catalog_prices in exclusive mode'));
    const started = await request(stack.app)
      .post(`/v1/integrations/${id}/dead-letters/replay`)
      .set(t.auth)
      .send({});
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const killed = await eventually('the replay waiting on the catalog lock', async () => {
      const pids = await sessionsWaitingOnLock(db, '%insert into%catalog_prices%');
      return pids.length > 0 ? pids : undefined;
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    releaseLock();
    await eventually('the killed sessions to end', async () =>
      (await anySessionAlive(db, killed)) ? undefined : true,
    );

    // The killed transaction never committed: the letter is still open and nothing was applied.
    expect((await openLetters()).map((l) => l.raw.StokKodu)).toEqual(['REPLAY-1']);
    expect((await readCatalog(stack, t.auth, 'prices')).find((p) => p.sku === 'REPLAY-1')).toBeUndefined();

    await stack.startWorker();
    const replay = await eventually(
      'the replay outcome',
      async () => {
        const res = await request(stack.app)
          .get(`/v1/integrations/${id}/dead-letters/replays/${started.body.replayId}`)
          .set(t.auth)
          .expect(200);
        return res.body.status === 'running' ? undefined : (res.body as { status: string; result: unknown });
      },
      60_000,
    );
    expect(replay).toMatchObject({
      status: 'completed',
      result: { replayed: 1, stillInvalid: 0, counts: { upserted: 1 } },
    });
    expect((await readCatalog(stack, t.auth, 'prices')).filter((p) => p.sku === 'REPLAY-1')).toMatchObject([
      { amountMinor: 1250, currency: 'TRY' },
    ]);
    expect(await openLetters()).toEqual([]);
    const letters = (await db.execute(
      sql`select status from erp_dead_letters where integration_id = ${id}`,
    )) as unknown as { status: string }[];
    expect(letters).toEqual([{ status: 'replayed' }]);

    // The dead worker's heartbeats stopped: the activity timed out (15 s, not its 5-minute start-to-close)
    // and its second attempt did the work.
    const history = await stack.temporal.workflow.getHandle(started.body.workflowId as string).fetchHistory();
    const attempts = (history.events ?? [])
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.attempt);
    expect(attempts).toEqual([2]);
  }, 180_000);
});
