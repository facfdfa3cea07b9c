import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../shared/search-attributes.js';
import { locateTemporalCli, TOOLS_DIR } from './temporal-cli.js';

export interface DevServerOptions {
  port?: number;
  /** Web UI port; omit for a headless server (tests). */
  uiPort?: number;
  /** SQLite file so runs survive restarts; omit for an in-memory server (tests). */
  dbFilename?: string;
  namespace?: string;
  /** Codec endpoint the Web UI calls to show encrypted payloads decoded. */
  uiCodecEndpoint?: string;
  /** A Temporal CLI binary (TEMPORAL_CLI); else one is found as locateTemporalCli says. */
  cli?: string | undefined;
}

export interface RunningDevServer {
  address: string;
  namespace: string;
  source: string;
  stop(): Promise<void>;
}

/**
 * Task-queue fairness on (off by default in the server): tasks carry their tenant's fairness key
 * (src/shared/fairness.ts) and are dispatched round-robin across keys, so one tenant's backlog does not
 * starve another. A cluster sets the same dynamic config key (docs/tenancy.md).
 */
export const FAIRNESS_ARGS = ['--dynamic-config-value', 'matching.enableFairness=true'];

/** Starts the Temporal CLI dev server with the project's search attributes registered. */
export async function startTemporalDevServer(opts: DevServerOptions = {}): Promise<RunningDevServer> {
  const cli = locateTemporalCli(opts.cli);
  if (opts.dbFilename) mkdirSync(path.dirname(opts.dbFilename), { recursive: true });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable:
        cli.kind === 'path'
          ? { type: 'existing-path', path: cli.path }
          : { type: 'cached-download', downloadDir: path.join(TOOLS_DIR, 'sdk-download') },
      ip: '127.0.0.1',
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.uiPort !== undefined ? { ui: true, uiPort: opts.uiPort } : {}),
      ...(opts.dbFilename ? { dbFilename: opts.dbFilename } : {}),
      namespace: opts.namespace ?? 'default',
      searchAttributes: CUSTOM_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
      extraArgs: [...FAIRNESS_ARGS, ...(opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : [])],
    },
  });
  return {
    address: env.address,
    namespace: env.namespace ?? opts.namespace ?? 'default',
    source: cli.kind === 'path' ? `${cli.path} (${cli.from})` : 'SDK download',
    stop: () => env.teardown(),
  };
}
