import type { ErpConnector } from './connector-definition.js';
import { createCsvSource } from './csv-source.js';
import { createRestSource } from './rest-source.js';
import type { ErpSource, ErpSourceContext } from './source.js';

export { connectorSchema, type ErpConnector } from './connector-definition.js';
export * from './source.js';

/** The source for an integration's connector. */
export function createErpSource(connector: ErpConnector, ctx: ErpSourceContext): ErpSource {
  return connector.type === 'rest' ? createRestSource(connector, ctx) : createCsvSource(connector, ctx);
}
