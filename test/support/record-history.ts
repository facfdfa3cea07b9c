import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import { locateTemporalCli } from '../../src/dev/temporal-cli.js';
import type { CodecKey } from '../../src/temporal/payload-codec.js';

export const HISTORIES_DIR = path.resolve('test/fixtures/histories');

/**
 * The payload codec key of recorded runs (test stacks use a random one otherwise): histories hold
 * encrypted payloads, as production histories do, and the replay suite decodes them with this key.
 * A test key, public on purpose.
 */
export const RECORDING_CODEC_KEYS: CodecKey[] = [
  { id: 'replay1', key: Buffer.from('switchyard replay fixtures key!!', 'utf8') },
];

/**
 * With RECORD_HISTORIES=1, saves a finished run's history (as `temporal workflow show --output json`
 * writes it) for the replay suite. Record anew only on purpose: the committed histories are what
 * running workflows look like to the next version of the code.
 */
export function recordHistoryIfAsked(workflowId: string, name: string): void {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const cli = locateTemporalCli(process.env.TEMPORAL_CLI);
  if (cli.kind !== 'path') throw new Error('recording histories needs the Temporal CLI');
  const json = execFileSync(
    cli.path,
    [
      'workflow',
      'show',
      '--workflow-id',
      workflowId,
      '--output',
      'json',
      '--address',
      inject('temporalAddress'),
    ],
    {
      encoding: 'utf8',
    },
  );
  writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), json);
}
