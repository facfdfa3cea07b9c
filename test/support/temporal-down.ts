import { Client, Connection } from '@temporalio/client';
import { clientRetryInterceptors } from '../../src/temporal/connection.js';

/**
 * A Temporal client made as the API makes it (the same bounded retries, or `attempts` of them),
 * pointed at an address where nothing listens: `stack.makeApp({ temporal: client })` is the API while
 * Temporal is down. Close its connection when done.
 */
export function unreachableTemporalClient(attempts?: number): Client {
  return new Client({
    connection: Connection.lazy({
      address: '127.0.0.1:1',
      connectTimeout: '1 second',
      interceptors: clientRetryInterceptors(attempts),
    }),
    namespace: 'default',
  });
}
