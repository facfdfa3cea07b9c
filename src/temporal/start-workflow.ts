import type { Client, ScheduleOptionsStartWorkflowAction, WithWorkflowArgs, WorkflowSignalWithStartOptions, WorkflowStartOptions } from '@temporalio/client';
import type { Workflows, WorkflowType } from '../shared/workflow-types.js';
import { type FairPriority } from '../shared/fairness.js';

/*
 * Starts by typed reference: the workflow type is checked against the workflows the workers register
 * and `args` against the workflow function's parameters, so a renamed workflow or a changed input is a
 * compile error, not a start that no worker can run. (Temporal's money-transfer template passes the
 * function itself; the API must not import workflow code, so the name is typed instead.)
 *
 * Every start carries a fairness key (`tenantPriority(tenantId)`, or `PLATFORM_PRIORITY` for the
 * platform's own sweeps): the task queues dispatch tenants' tasks round-robin, so one tenant's backlog
 * cannot starve another's. Activities and child workflows inherit it. Required by the types, so a new
 * start cannot forget it.
 */

type Fair<T> = T & { priority: FairPriority };

export function startWorkflow<T extends WorkflowType>(client: Client, type: T, options: Fair<WorkflowStartOptions<Workflows[T]>>) {
  return client.workflow.start<Workflows[T]>(type, options);
}

export function signalWithStartWorkflow<T extends WorkflowType, SignalArgs extends unknown[]>(
  client: Client,
  type: T,
  options: Fair<WithWorkflowArgs<Workflows[T], WorkflowSignalWithStartOptions<SignalArgs>>>,
) {
  return client.workflow.signalWithStart<Workflows[T], SignalArgs>(type, options);
}

/** A Schedule's start-workflow action, typed the same way. */
export function scheduledStart<T extends WorkflowType>(
  type: T,
  action: Fair<Omit<ScheduleOptionsStartWorkflowAction<Workflows[T]>, 'type' | 'workflowType'>>,
): ScheduleOptionsStartWorkflowAction<Workflows[T]> {
  return { type: 'startWorkflow', workflowType: type, ...action };
}
