import type { Client, ScheduleOptionsStartWorkflowAction, WithWorkflowArgs, WorkflowSignalWithStartOptions, WorkflowStartOptions } from '@temporalio/client';
import type { Workflows, WorkflowType } from '../shared/workflow-types.js';

/*
 * Starts by typed reference: the workflow type is checked against the workflows the workers register
 * and `args` against the workflow function's parameters, so a renamed workflow or a changed input is a
 * compile error, not a start that no worker can run. (Temporal's money-transfer template passes the
 * function itself; the API must not import workflow code, so the name is typed instead.)
 */

export function startWorkflow<T extends WorkflowType>(client: Client, type: T, options: WorkflowStartOptions<Workflows[T]>) {
  return client.workflow.start<Workflows[T]>(type, options);
}

export function signalWithStartWorkflow<T extends WorkflowType, SignalArgs extends unknown[]>(
  client: Client,
  type: T,
  options: WithWorkflowArgs<Workflows[T], WorkflowSignalWithStartOptions<SignalArgs>>,
) {
  return client.workflow.signalWithStart<Workflows[T], SignalArgs>(type, options);
}

/** A Schedule's start-workflow action, typed the same way. */
export function scheduledStart<T extends WorkflowType>(
  type: T,
  action: Omit<ScheduleOptionsStartWorkflowAction<Workflows[T]>, 'type' | 'workflowType'>,
): ScheduleOptionsStartWorkflowAction<Workflows[T]> {
  return { type: 'startWorkflow', workflowType: type, ...action };
}
