import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/childService.js';

/** `npm run token` / `npm run seed`: --help, strictly validated flags (exit 2 with a message). */
function script(name: 'token' | 'seed', args: string[], env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cli-'));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `src/app/scripts/${name}.ts`, ...args],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, PAYMENT_STORE: 'memory', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run token', { timeout: 60_000 }, () => {
  it.each([['--help'], ['-h']])('%s prints the usage and exits 0', async (flag) => {
    const r = await script('token', [flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run token -- --sub <userId>/);
    expect(r.stdout).toContain('buyer, seller, admin, service');
  });

  it.each(['buyer', 'seller', 'admin', 'service'])('accepts --role %s', async (role) => {
    const r = await script('token', ['--sub', 'u1', '--role', role, '--expires', '600']);
    expect(r.code).toBe(0);
    const claims = JSON.parse(Buffer.from(r.stdout.trim().split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: 'u1', role });
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);
  });

  it.each([
    [['--sub', 'u1', '--role', 'superuser'], '--role must be one of buyer, seller, admin, service'],
    [['--sub', 'u1', '--bogus'], "Unknown option '--bogus'"],
    [['--sub', 'u1', 'stray'], 'stray'],
    [['--role', 'admin'], '--sub is required'],
    [['--sub'], "'--sub"],
    [['--sub', 'u1', '--expires', '1h'], '--expires must be a whole number'],
    [['--sub', 'u1', '--expires', '0'], '--expires must be from 1 to 86400'],
    [['--sub', 'u1', '--expires', '86401'], '--expires must be from 1 to 86400'],
  ])('refuses %j with exit 2 and a message', async (args, message) => {
    const r = await script('token', args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('Usage: npm run token');
    expect(r.stdout).toBe('');
  });

  it('caps --expires at JWT_MAX_LIFETIME_SECONDS', async () => {
    const r = await script('token', ['--sub', 'u1', '--expires', '7200'], { JWT_MAX_LIFETIME_SECONDS: '3600' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--expires must be from 1 to 3600 (JWT_MAX_LIFETIME_SECONDS)');
  });
});

describe('npm run seed', { timeout: 60_000 }, () => {
  it.each([['--help'], ['-h']])('%s prints the usage and exits 0 without seeding', async (flag) => {
    const r = await script('seed', [flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run seed/);
    expect(r.stdout).not.toContain('purchaseRequestId=');
  });

  it('refuses an unknown flag with exit 2 and a message', async () => {
    const r = await script('seed', ['--force']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--force'");
    expect(r.stderr).toContain('Usage: npm run seed');
  });
});
