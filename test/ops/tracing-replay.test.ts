import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleWorkflows } from '../../src/workers/worker.js';
import { encryptionDataConverter } from '../../src/temporal/payload-codec.js';
import { HISTORIES_DIR, RECORDING_CODEC_KEYS } from '../support/record-history.js';

/**
 * Turning tracing on swaps in the bundle with the OpenTelemetry workflow interceptors. Runs started
 * without tracing (every recorded history) must replay under it, or enabling tracing during a
 * deploy would break payments in flight.
 */
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));
let traced: WorkflowBundleOption;

beforeAll(async () => {
  traced = await bundleWorkflows({ traced: true });
}, 180_000);

describe('workflow replay with tracing on', () => {
  it('bundles the tracing interceptors into the traced bundle only', async () => {
    expect('code' in traced && traced.code).toContain('OpenTelemetryInboundInterceptor');
    expect(readFileSync(inject('workflowBundlePath'), 'utf8')).not.toContain('OpenTelemetryInboundInterceptor');
  });

  it.each(files)('replays %s deterministically under the traced bundle', async (file) => {
    const history: unknown = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
    const noop = { fn: () => {} };
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: traced, sinks: { exporter: { export: noop } }, dataConverter: encryptionDataConverter(RECORDING_CODEC_KEYS) },
        history, file.replace(/\.json$/, '')),
    ).resolves.toBeUndefined();
  });
});
