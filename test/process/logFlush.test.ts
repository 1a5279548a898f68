import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The service logs through `logDestination`, asynchronous unless LOG_SYNC: lines written while a
 * write is in flight go out together. What must hold is that a process that exits (a fatal error
 * then `process.exit`, the end of a script) loses no line it logged, however many were still
 * buffered: pino flushes the destination at exit.
 */
const LOGGER = pathToFileURL(path.resolve('src/platform/logger.ts')).href;

async function run(sync: boolean, lines: number): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'log-flush-'));
  const script = path.join(dir, 'logMany.mts');
  await writeFile(
    script,
    `import { createLogger, logDestination } from ${JSON.stringify(LOGGER)};
const logger = createLogger('info', logDestination({ dest: 1, sync: ${sync} }));
for (let i = 0; i < ${lines}; i++) logger.info({ i, pad: 'x'.repeat(200) }, 'line');
logger.fatal('exiting');
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
  it.each([false, true])('sync=%s: every line logged before process.exit reaches stdout, in order', async (sync) => {
    const lines = await run(sync, 5_000);
    expect(lines).toHaveLength(5_001);
    const parsed = lines.map((l) => JSON.parse(l) as { i?: number; msg: string });
    expect(parsed.slice(0, -1).map((l) => l.i)).toStrictEqual(Array.from({ length: 5_000 }, (_, i) => i));
    expect(parsed.at(-1)!.msg).toBe('exiting');
  });
});
