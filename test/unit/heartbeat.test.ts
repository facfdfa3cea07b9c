import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { beating } from '../../src/activities/heartbeat.js';

/**
 * `beating` in an activity context without a server (MockActivityEnvironment): what a killed worker's
 * next attempt resumes from is what the last heartbeat carried.
 */
describe('beating', () => {
  it('heartbeats every reported progress and ends on the last one', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    const result = await env.run(() =>
      beating({ done: 0 }, async (from, report) => {
        for (let done = from.done + 1; done <= 3; done++) report({ done });
        return 'finished';
      }),
    );
    expect(result).toBe('finished');
    expect(beats).toEqual([{ done: 0 }, { done: 1 }, { done: 2 }, { done: 3 }]);
  });

  it("starts from the previous attempt's heartbeat, so finished batches are not redone", async () => {
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { done: 2 } });
    const worked: number[] = [];
    await env.run(() =>
      beating({ done: 0 }, async (from, report) => {
        for (let done = from.done + 1; done <= 4; done++) {
          worked.push(done);
          report({ done });
        }
      }),
    );
    expect(worked).toEqual([3, 4]);
  });

  it('runs outside an activity (a script calling the function directly) without heartbeating', async () => {
    await expect(beating(5, async (from) => from * 2)).resolves.toBe(10);
  });
});
