import type * as workflows from '../workflows/index.js';

/**
 * Every workflow the workers register (src/workflows/index.ts), keyed by its Temporal workflow type
 * (the exported function's name). Type-only: the API and clients never load workflow code.
 */
export type Workflows = typeof workflows;

/** A workflow type name that exists: renaming or removing a workflow makes every use a compile error. */
export type WorkflowType = keyof Workflows;
