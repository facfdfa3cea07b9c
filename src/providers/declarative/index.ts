export {
  providerDefinitionSchema,
  providerDefinitionJsonSchema,
  providerDefinitionJsonSchemaText,
  type ProviderDefinition,
  type ProviderDefinitionInput,
  type ActionDefinition,
  type ActionName,
} from './definition.js';
export {
  parseProviderDefinition,
  validateProviderDefinition,
  loadProviderDefinitions,
  loadProviderDefinitionFile,
  ProviderDefinitionError,
  ProviderDefinitionsError,
  type DefinitionProblem,
  type DefinitionFormat,
} from './load.js';
export {
  createDeclarativeProviderFactory,
  type DeclarativeFactoryOptions,
  type DeclarativeProviderFactory,
} from './factory.js';
export { defaultHttpClassification } from './classify.js';
