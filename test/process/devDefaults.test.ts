import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { killIfRunning, freePort, REPO_ROOT, spawnService, waitFor, type ChildService } from '../helpers/childService.js';

/** Outside production: a generated JWT secret shared with `npm run token`, loopback bind, URLs in the listening line. */
const run = promisify(execFile);
let running: ChildService | undefined;
afterEach(async () => {
  await killIfRunning(running);
  running = undefined;
});

const listeningLine = (out: string) => JSON.parse(out.split('\n').find((l) => l.includes('"msg":"listening"'))!) as Record<string, unknown>;

describe('the entry point outside production', { timeout: 120_000 }, () => {
  it('keeps a generated JWT secret in DATA_DIR/jwt-secret (0600) that npm run token signs with; binds 127.0.0.1; prints the URLs', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'dev-data-'));
    const env = { PAYMENT_STORE: 'memory', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    running = spawnService(env);
    await waitFor(() => running!.output().includes('"msg":"listening"'), 'the service to listen', 60_000);

    const file = path.join(dataDir, 'jwt-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, 'utf8').trim();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(running.output()).not.toContain(secret);

    const line = listeningLine(running.output());
    const base = `http://127.0.0.1:${port}`;
    expect(line).toMatchObject({
      host: '127.0.0.1',
      port,
      health: `${base}/api/payment/health`,
      docs: `${base}/api/payment/docs`,
      metrics: `${base}/metrics`,
    });
    expect((await fetch(line.health as string)).status).toBe(200);
    expect((await fetch(line.docs as string)).status).toBe(200);
    // Outside production /metrics stays open when METRICS_TOKEN is unset (today's behaviour).
    expect((await fetch(line.metrics as string)).status).toBe(200);

    // The script, in its own process, signs with the same secret: the service accepts its token.
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/app/scripts/token.ts', '--sub', 'buyer-1', '--role', 'buyer'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir },
    });
    const token = stdout.trim();
    const list = await fetch(`${base}/api/payment`, { headers: { authorization: `Bearer ${token}` } });
    expect(list.status).toBe(200);
    // Its lifetime is bounded: it carries exp, 24 h after iat.
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number };
    expect(claims.exp - claims.iat).toBe(86_400);

    // Restarted, the service reads the same secret back: the token still works.
    running.child.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
    running = spawnService(env);
    await waitFor(() => running!.output().includes('"msg":"listening"'), 'the service to listen again', 60_000);
    expect((await fetch(`${base}/api/payment`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });
});
