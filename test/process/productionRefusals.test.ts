import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killIfRunning, freePort, spawnService, type ChildService } from '../helpers/childService.js';

/** Production refuses what is unsafe: the real entry point, as a child process, exits 1 naming the setting. */
const PROD = {
  NODE_ENV: 'production',
  // Never reached: the configuration is refused before any connection is tried.
  MONGODB_URI: 'mongodb://127.0.0.1:1/unused',
  JWT_SECRET: 'production-refusal-test-secret-0123456789abcdef',
  METRICS_TOKEN: 'production-metrics-token-0123',
};

let running: ChildService | undefined;
afterEach(async () => {
  await killIfRunning(running);
  running = undefined;
});

async function refusal(env: Record<string, string | undefined>) {
  const clean = Object.fromEntries(Object.entries({ ...env, PORT: String(await freePort()) }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  running = spawnService(clean);
  const { code } = await running.exited;
  return { code, output: running.output() };
}

describe('production refuses to start', { timeout: 60_000 }, () => {
  it.each(['true', '1', 'yes'])('when ENABLE_DEV_ROUTES=%s, naming the setting', async (value) => {
    const r = await refusal({ ...PROD, ENABLE_DEV_ROUTES: value });
    expect(r.code).toBe(1);
    expect(r.output).toContain('ENABLE_DEV_ROUTES: dev routes are never mounted in production');
    expect(r.output).not.toContain('"msg":"listening"');
    expect(r.output).not.toMatch(/\n\s+at /); // a configuration error, no stack trace
  });

  it.each([
    ['unset', undefined],
    ['short', 'short'],
  ])('without METRICS_TOKEN (%s), naming it', async (_label, token) => {
    const r = await refusal({ ...PROD, METRICS_TOKEN: token });
    expect(r.code).toBe(1);
    expect(r.output).toContain('METRICS_TOKEN: required in production');
  });

  it('without JWT_SECRET, naming it, and generates no secret under DATA_DIR', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'prod-data-'));
    const r = await refusal({ ...PROD, JWT_SECRET: undefined, DATA_DIR: dataDir });
    expect(r.code).toBe(1);
    expect(r.output).toContain('JWT_SECRET: required in production');
    expect(existsSync(path.join(dataDir, 'jwt-secret'))).toBe(false);
  });

  it('names every problem at once', async () => {
    const r = await refusal({ NODE_ENV: 'production', MONGODB_URI: PROD.MONGODB_URI, ENABLE_DEV_ROUTES: 'true' });
    expect(r.code).toBe(1);
    for (const key of ['JWT_SECRET', 'METRICS_TOKEN', 'ENABLE_DEV_ROUTES']) expect(r.output).toContain(`${key}:`);
  });
});
