/**
 * The failure converter of every client, worker and workflow bundle: failure messages and stack
 * traces travel as an encoded attribute payload, so the payload codec encrypts them like any input
 * (a gateway that echoes a card token in its error text must not put it into Temporal's history in
 * clear). A CommonJS module (.cts) because the SDK require()s it by path (DataConverter
 * failureConverterPath) and bundles it into the workflow code; plain syntax so webpack reads it as is.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
