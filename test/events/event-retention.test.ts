import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events } from '../../src/db/schema.js';
import { recordEvent } from '../../src/stores/events/event-store.js';
import { deleteScheduleIfExists } from '../../src/temporal/schedules.js';
import { ensureEventRetentionSchedule } from '../../src/temporal/events/event-retention-schedule.js';
import { recordHistoryIfAsked } from '../support/record-history.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let scheduleId: string | undefined;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  if (scheduleId) await deleteScheduleIfExists(stack.temporal, scheduleId);
  await stack?.close();
});

describe('event retention on Temporal', () => {
  it('the event-retention Schedule deletes events past EVENTS_RETENTION_DAYS and keeps the others', async () => {
    const tenant = await stack.createTenant('retention');
    const record = (id: string) =>
      stack.database.db.transaction((tx) => recordEvent(tx, { tenantId: tenant.id, type: 'order.created', resource: { type: 'order', id }, data: { number: id } }));
    const expired = await record(`SO-${randomUUID().slice(0, 8)}`);
    const kept = await record(`SO-${randomUUID().slice(0, 8)}`);
    await stack.database.db.execute(sql`update events set created_at = now() - interval '31 days' where id = ${expired.id}`);
    await stack.database.db.execute(sql`update events set created_at = now() - interval '29 days' where id = ${kept.id}`);

    scheduleId = await ensureEventRetentionSchedule(stack.temporal, stack.taskQueues, { retentionDays: 30, suffix: stack.queueSuffix });
    const schedule = stack.temporal.schedule.getHandle(scheduleId);
    expect((await schedule.describe()).spec.intervals?.map((i) => i.every)).toEqual([3_600_000]);
    await schedule.trigger();

    const exists = async (id: string) => (await stack.database.db.select({ id: events.id }).from(events).where(eq(events.id, id))).length > 0;
    const deadline = Date.now() + 30_000;
    while ((await exists(expired.id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await exists(expired.id)).toBe(false);
    expect(await exists(kept.id)).toBe(true);
    const runs = [];
    for await (const run of stack.temporal.workflow.list({ query: `WorkflowType = 'eventRetentionWorkflow' AND TaskQueue = '${stack.taskQueues.events}'` })) runs.push(run);
    expect(runs.length).toBeGreaterThanOrEqual(1);
    await stack.temporal.workflow.getHandle(runs[0]!.workflowId, runs[0]!.runId).result();
    recordHistoryIfAsked(runs[0]!.workflowId, 'event-retention');
  });
});
