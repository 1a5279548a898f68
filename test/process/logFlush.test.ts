import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The service logs through `logDestination`, in batches unless LOG_SYNC (up to 4 KiB, at most
 * 100 ms late). What must hold is that a process that exits (a fatal error then `process.exit`,
 * the end of a script) loses no line it logged, however many were still buffered, and that a
 * quiet process's line is not held until the next batch fills.
 */
const LOGGER = pathToFileURL(path.resolve('src/platform/logger.ts')).href;

async function run(sync: boolean, lines: number, last: 'fatal' | 'info' = 'fatal'): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'log-flush-'));
  const script = path.join(dir, 'logMany.mts');
  // pino writes a fatal line's destination out itself; an info line relies on the exit hook.
  await writeFile(
    script,
    `import { createLogger, logDestination } from ${JSON.stringify(LOGGER)};
const logger = createLogger('info', logDestination({ dest: 1, sync: ${sync} }));
for (let i = 0; i < ${lines}; i++) logger.info({ i, pad: 'x'.repeat(200) }, 'line');
logger.${last}('exiting');
process.exit(3);
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  // 'close' comes after the exit and after stdout has ended: every byte written has been read.
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code).toBe(3);
  return out.split('\n').filter(Boolean);
}

describe('log destination', () => {
  it.each([
    [false, 'fatal'],
    [true, 'fatal'],
    [false, 'info'],
    [true, 'info'],
  ] as const)('sync=%s, last line %s: every line logged before process.exit reaches stdout, in order', async (sync, last) => {
    const lines = await run(sync, 5_000, last);
    expect(lines).toHaveLength(5_001);
    const parsed = lines.map((l) => JSON.parse(l) as { i?: number; msg: string });
    expect(parsed.slice(0, -1).map((l) => l.i)).toStrictEqual(Array.from({ length: 5_000 }, (_, i) => i));
    expect(parsed.at(-1)!.msg).toBe('exiting');
  });

  it('a quiet process’s one line is written within the batch interval, not held until the batch fills or the process exits', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'log-flush-'));
    const script = path.join(dir, 'logOne.mts');
    await writeFile(
      script,
      `import { createLogger, logDestination, LOG_BATCH_FLUSH_MS } from ${JSON.stringify(LOGGER)};
const logger = createLogger('info', logDestination({ dest: 1, sync: false }));
logger.info('quiet');
process.stderr.write('logged\\n');
setTimeout(() => process.exit(0), 20 * LOG_BATCH_FLUSH_MS);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    const logged = new Promise<number>((resolve) => child.stderr.once('data', () => resolve(performance.now())));
    const written = new Promise<number>((resolve) => child.stdout.once('data', () => resolve(performance.now())));
    const exited = new Promise<number>((resolve) => child.on('exit', () => resolve(performance.now())));
    const [loggedAt, writtenAt, exitedAt] = await Promise.all([logged, written, exited]);
    // Written ~100 ms after it was logged, well before the exit 2 s later would have written it.
    expect(writtenAt - loggedAt).toBeLessThan(1_000);
    expect(exitedAt - writtenAt).toBeGreaterThan(500);
  });
});
