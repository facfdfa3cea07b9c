import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../shared/search-attributes.js';
import { StartupError } from '../start-up.js';

// A CommonJS package: its namespace object is the default export under Node's ESM loader.
const { temporal } = proto;

type IndexedValueTypeName = keyof typeof temporal.api.enums.v1.IndexedValueType;

/** The Temporal CLI command that registers the given attributes (for operators without the permission). */
export function searchAttributeCommand(namespace: string, names: string[]): string {
  return CUSTOM_SEARCH_ATTRIBUTES.filter((a) => names.includes(a.name))
    .map((a) => `temporal operator search-attribute create --namespace ${namespace} --name ${a.name} --type ${a.type === 'KEYWORD' ? 'Keyword' : a.type}`)
    .join('\n');
}

/**
 * Makes sure the namespace knows the custom search attributes the workflows set (a start with an
 * unknown attribute fails, and today that shows only in Temporal). Registers the missing ones through
 * the operator service when the connection may; otherwise stops start-up naming them and the command.
 */
export async function ensureSearchAttributes(client: Client, namespace: string): Promise<{ registered: string[] }> {
  const operator = client.connection.operatorService;
  let absent = CUSTOM_SEARCH_ATTRIBUTES;
  try {
    const { customAttributes } = await operator.listSearchAttributes({ namespace });
    absent = CUSTOM_SEARCH_ATTRIBUTES.filter((a) => !(a.name in (customAttributes ?? {})));
    if (absent.length === 0) return { registered: [] };
    await operator.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        absent.map((a) => [a.name, temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${a.type}` as IndexedValueTypeName]]),
      ),
    });
  } catch (err) {
    const names = absent.map((a) => a.name);
    throw new StartupError(
      `namespace "${namespace}" may lack the search attributes ${names.join(', ')} and they could not be checked or registered ` +
        `(${(err as Error).message.split('\n')[0]}). Register them with:\n${searchAttributeCommand(namespace, names)}`,
      { cause: err },
    );
  }
  return { registered: absent.map((a) => a.name) };
}
