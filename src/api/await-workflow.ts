import type { WorkflowHandle } from '@temporalio/client';

/** The workflow's result if it finishes within `ms`, else null (the run goes on; the caller answers "running"). */
export async function resultWithin<T>(handle: WorkflowHandle, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([handle.result() as Promise<T>, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
