/* global process */
// Preloaded (`node --import`) into every process a test spawns: when the test process dies, even by
// SIGKILL, the pipe it holds on our stdin closes, and we exit instead of living on as an orphan that
// polls the shared Temporal server and database. Worker threads inherit the preload (and have a stdin
// of their own that ends at once): only the main thread watches.
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  process.stdin.on('end', () => process.exit(137));
  process.stdin.on('error', () => process.exit(137));
  process.stdin.resume();
  // stdin must not keep an otherwise finished process alive.
  process.stdin.unref?.();
}
