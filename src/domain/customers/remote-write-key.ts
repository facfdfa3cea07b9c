/** Idempotency key of a write to a remote system: (customer, version, connection), stable across retries. */
export const remoteWriteKey = (customerId: string, version: number, connectionId: string) => `${customerId}-v${version}-${connectionId}`;

/**
 * Whether a remote change was made by our own write through this connection: the request that made
 * it carried one of our idempotency keys. Its event says nothing we do not know (the push stored
 * what it wrote), and any later change at the remote has an event of its own.
 */
export function isOwnWrite(idempotencyKey: string | null | undefined, connectionId: string): boolean {
  const suffix = `-${connectionId}`;
  return !!idempotencyKey && idempotencyKey.endsWith(suffix) && /^.+-v\d+$/.test(idempotencyKey.slice(0, -suffix.length));
}
