import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { encryptionDataConverter } from '../../src/temporal/payload-codec.js';
import { HISTORIES_DIR, RECORDING_CODEC_KEYS } from '../support/record-history.js';
import { quietTemporalRuntime } from '../support/stack.js';

/**
 * Recorded histories of real runs (fallback, ambiguous resolution, callbacks) replayed against the
 * current workflow code: a change that would break runs in flight fails here, and must go behind
 * patched(). Recorded by the end-to-end suites with RECORD_HISTORIES=1.
 */
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));

/** The workflow type a recorded history ran: the first event names it. */
function workflowTypeOf(file: string): string {
  const history = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as {
    events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[];
  };
  return history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '(none)';
}

/** Every workflow the workers run, as exported by the bundle's entry point. */
function exportedWorkflows(): string[] {
  const index = readFileSync(path.resolve('src/workflows/index.ts'), 'utf8');
  return [...index.matchAll(/export \{([^}]+)\}/g)]
    .flatMap((m) => m[1]!.split(',').map((name) => name.trim()))
    .filter(Boolean);
}

quietTemporalRuntime();

describe('workflow replay', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it('covers every workflow type the workers run', () => {
    const recorded = new Set(files.map(workflowTypeOf));
    const workflows = exportedWorkflows();
    expect(workflows.length).toBeGreaterThanOrEqual(9);
    expect(workflows.filter((w) => !recorded.has(w))).toEqual([]);
  });

  it.each(files)('replays %s deterministically', async (file) => {
    // The worker parses the CLI's JSON form itself (historyFromJSON inside the SDK).
    const history: unknown = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
    await expect(
      Worker.runReplayHistory(
        {
          workflowBundle: { codePath: inject('workflowBundlePath') },
          dataConverter: encryptionDataConverter(RECORDING_CODEC_KEYS),
        },
        history,
        file.replace(/\.json$/, ''),
      ),
    ).resolves.toBeUndefined();
  });
});
