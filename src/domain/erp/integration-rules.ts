/** Rules of an ERP integration's definition that need no database: what it schedules, what it must declare. */
import { ERP_ENTITIES, type ErpEntity } from './entities.js';

/** The parts of an integration that decide what it polls. */
export interface IntegrationShape {
  type: string;
  connector: unknown;
  mappings: unknown;
}

/** Entities a polling integration schedules: mapped and served by a connector stream. */
export function scheduledEntities(integration: IntegrationShape): ErpEntity[] {
  if (integration.type === 'webhook') return [];
  const streams = (integration.connector as { streams?: Record<string, unknown> }).streams ?? {};
  const mappings = integration.mappings as Record<string, unknown>;
  return ERP_ENTITIES.filter((e) => mappings[e] !== undefined && streams[e] !== undefined);
}

/** One problem of a definition, at its path inside the definition (e.g. `connector.baseUrl`). */
export interface DefinitionProblem {
  path: string;
  message: string;
}

/**
 * A definition that cannot be saved. Paths are relative to the definition; `messageAt(prefix)` says
 * the same with the paths where the caller received them (the API prefixes `body.`).
 */
export class IntegrationInvalidError extends Error {
  override readonly name = 'IntegrationInvalidError';
  readonly problems: DefinitionProblem[];
  private readonly headline: (prefix: string) => string;

  constructor(headline: (prefix: string) => string, problems: DefinitionProblem[]) {
    super(headline(''));
    this.headline = headline;
    this.problems = problems;
  }

  messageAt(prefix: string): string {
    return this.headline(prefix);
  }
}

/**
 * The entity whose connector stream reads `entity`'s records: its own stream, or the stream that
 * lists it in `alsoFeeds` (one read of the endpoint feeding several entities).
 */
export function feedingEntity(streams: Record<string, unknown>, entity: string): ErpEntity | undefined {
  if (streams[entity] !== undefined) return ERP_ENTITIES.find((e) => e === entity);
  return ERP_ENTITIES.find((e) => {
    const alsoFeeds = (streams[e] as { alsoFeeds?: unknown } | undefined)?.alsoFeeds;
    return Array.isArray(alsoFeeds) && alsoFeeds.includes(entity);
  });
}

/**
 * A polling integration needs a stream for each mapped entity (its own or one that also feeds it),
 * and an entity fed by another's stream needs that entity mapped too (its runs are that stream's runs).
 */
export function requireStreamsForMappings(type: string, streams: Record<string, unknown>, mappings: Record<string, unknown>): void {
  if (type === 'webhook') return;
  const problems: DefinitionProblem[] = [];
  for (const e of Object.keys(mappings)) {
    if (mappings[e] === undefined) continue;
    const feeder = feedingEntity(streams, e);
    if (feeder === undefined) problems.push({ path: `connector.streams.${e}`, message: `'${e}' is mapped but the connector has no stream for it` });
    else if (mappings[feeder] === undefined) {
      problems.push({ path: `mappings.${feeder}`, message: `'${e}' is read by the ${feeder} stream, which runs only when ${feeder} is mapped too` });
    }
  }
  if (problems.length > 0) throw new IntegrationInvalidError(() => 'mapped entities need a connector stream', problems);
}

/** The poll interval when settings name none. */
export const DEFAULT_POLL_INTERVAL_SECONDS = 300;

/**
 * Seconds between scheduled polls: the integration's interval, raised to the minimum in force (an
 * integration saved before the minimum was raised polls at the minimum from its next change on).
 */
export function pollIntervalSeconds(settings: { intervalSeconds?: unknown }, minimumSeconds: number): number {
  return Math.max(Number(settings.intervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS), minimumSeconds);
}
