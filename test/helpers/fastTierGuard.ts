import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { afterAll } from 'vitest';

/**
 * Setup file of the `fast` project (vitest.config.ts): a file there must not start processes.
 * test/tiers.test.ts checks what test files import; this catches the rest at run time (a process
 * started from src/ or from a helper the check does not know): the file fails, naming what it
 * started. The process still starts, so the file's own outcome is unchanged.
 */

const STARTERS = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const;
// On globalThis: files share a worker (and this module may run once per file), the wrappers are installed once.
const KEY = Symbol.for('escrow-payment-service.test.startedProcesses');
const shared = globalThis as { [KEY]?: string[] };

if (!shared[KEY]) {
  const started: string[] = (shared[KEY] = []);
  const patched = childProcess as unknown as Record<(typeof STARTERS)[number], (...args: unknown[]) => unknown>;
  for (const name of STARTERS) {
    const original = patched[name];
    patched[name] = (...args: unknown[]) => {
      started.push(`${name}(${String(args[0])})`);
      return original(...args);
    };
  }
  // Named imports (`import { spawn } from 'node:child_process'`) see the wrappers too.
  syncBuiltinESMExports();
}

afterAll(() => {
  const started = shared[KEY]!.splice(0);
  if (started.length > 0) {
    throw new Error(`this file started processes (${started.join(', ')}); the fast project is in-process only: list it under system in vitest.config.ts`);
  }
});
