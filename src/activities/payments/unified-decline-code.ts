import { eq } from 'drizzle-orm';
import { connections } from '../../db/schema.js';
import { unifyDeclineCode, type UnifiedDeclineCode } from '../../domain/payments/decline-codes.js';
import { UnknownProviderError } from '../../providers/registry.js';
import type { GatewayDeps } from '../load-gateway.js';

/** The unified code of an attempt's failure, from the mapping its connection's provider declares. */
export async function unifiedCodeFor(
  deps: Pick<GatewayDeps, 'db' | 'providers'>,
  attempt: { connectionId: string; errorCode?: string | null; errorClass?: string | null },
): Promise<UnifiedDeclineCode | null> {
  if (!attempt.errorCode && !attempt.errorClass) return null;
  const [conn] = await deps.db
    .select({ tenantId: connections.tenantId, provider: connections.provider })
    .from(connections)
    .where(eq(connections.id, attempt.connectionId))
    .limit(1);
  // A deleted connection or an unknown provider still gets the generic code of the error's class.
  const factory = conn
    ? await deps.providers.resolve(conn.tenantId, conn.provider).then(
        (p) => p.factory,
        (err: unknown) => {
          if (err instanceof UnknownProviderError) return undefined;
          throw err;
        },
      )
    : undefined;
  return unifyDeclineCode(factory?.declineCodes, attempt.errorCode, attempt.errorClass);
}
