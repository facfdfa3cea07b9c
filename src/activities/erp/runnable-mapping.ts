import { ApplicationFailure } from '@temporalio/common';
import type { ErpEntity } from '../../domain/erp/entities.js';
import { ErpFailureType } from '../../domain/erp/erp-failures.js';
import { MappingCompileError, type CompiledMapping } from '../../domain/erp/mapping.js';
import { mappingOf, type IntegrationRow } from '../../stores/erp/integration-store.js';

/** mappingOf for activities: a stored mapping that no longer compiles fails as Misconfigured, not retried (the tenant must fix it). */
export function runnableMapping<E extends ErpEntity>(row: IntegrationRow, entity: E): CompiledMapping<E> | undefined {
  try {
    return mappingOf(row, entity);
  } catch (err) {
    if (!(err instanceof MappingCompileError)) throw err;
    throw ApplicationFailure.nonRetryable(err.message, ErpFailureType.Misconfigured);
  }
}
