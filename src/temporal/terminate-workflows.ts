import { WorkflowNotFoundError, type Client } from '@temporalio/client';

/** A value for a visibility query, quoted (ids are ours, but a quote must never end the string). */
export const visibilityValue = (value: string): string => `'${value.replace(/[\\']/g, '\\$&')}'`;

/**
 * Terminates the running workflows a visibility query finds, plus the given ids (for runs under a
 * deterministic id), with `reason` in their history. Used when what they work for is deleted: a run
 * left going would retry against a resource that is gone. Already closed or unknown runs are skipped.
 * Returns the ids terminated.
 */
export async function terminateRunning(client: Client, target: { query?: string; ids?: string[] }, reason: string): Promise<string[]> {
  const ids = new Set(target.ids ?? []);
  if (target.query) {
    for await (const wf of client.workflow.list({ query: `(${target.query}) AND ExecutionStatus = 'Running'` })) ids.add(wf.workflowId);
  }
  const terminated: string[] = [];
  for (const id of ids) {
    try {
      await client.workflow.getHandle(id).terminate(reason);
      terminated.push(id);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return terminated;
}
