import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * State files let an emulator keep its objects across restarts (`npm run dev` keeps them in the data
 * folder), as the real service would. Without one, an emulator lives in memory only (tests).
 */

/** The JSON kept in `file`, or undefined when there is none yet. */
export function readStateFile<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

/**
 * Writes `state()` to `file` `delayMs` after the first change of a burst (one write for a request that
 * changes several objects), through a temporary file and a rename, so a crash mid-write leaves the
 * previous state, not half a file. `flush` writes a pending change at once (at shutdown).
 */
export function stateFileWriter(file: string, state: () => unknown, delayMs = 200): { changed(): void; flush(): void } {
  let timer: NodeJS.Timeout | undefined;
  const write = () => {
    clearTimeout(timer);
    timer = undefined;
    mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(state()), { mode: 0o600 });
    renameSync(temporary, file);
  };
  return {
    changed: () => {
      timer ??= setTimeout(write, delayMs);
    },
    flush: () => {
      if (timer) write();
    },
  };
}
