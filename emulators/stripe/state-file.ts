import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { StoredResponse } from './idempotency.js';
import type { StoreSnapshot } from './store.js';

/** What a state file holds: the objects and the stored idempotent responses. */
export interface EmulatorState {
  version: 1;
  objects: StoreSnapshot;
  idempotency: [string, StoredResponse][];
}

/** The state kept in `file`, or undefined when there is none yet. */
export function readState(file: string): EmulatorState | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const state = JSON.parse(text) as EmulatorState;
  if (state.version !== 1) throw new Error(`${file}: unknown Stripe emulator state version ${String(state.version)}`);
  return state;
}

/**
 * Writes the state to `file` `delayMs` after the first change of a burst (one write for a request that
 * changes several objects), through a temporary file and a rename, so a crash mid-write leaves the
 * previous state, not half a file.
 */
export function stateWriter(file: string, state: () => EmulatorState, delayMs = 200): { changed(): void; flush(): void } {
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(state()), { mode: 0o600 });
    renameSync(temporary, file);
  };
  return {
    changed: () => {
      timer ??= setTimeout(flush, delayMs);
    },
    flush: () => {
      if (timer) flush();
    },
  };
}
