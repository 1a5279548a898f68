import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { devJwtSecret } from '../../src/platform/auth/devSecret.js';
import { loadConfig } from '../../src/platform/config.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'jwt-secret-'));

describe('the development JWT secret kept under DATA_DIR', () => {
  it('is generated once, random, at least 32 characters, in DATA_DIR/jwt-secret with mode 0600', () => {
    const dir = path.join(tmp(), 'nested', 'data');
    const first = devJwtSecret(dir);
    expect(first.file).toBe(path.resolve(dir, 'jwt-secret'));
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(first.file, 'utf8').trim()).toBe(first.secret);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    // Read back, not regenerated: the service and the scripts share it.
    expect(devJwtSecret(dir)).toEqual(first);
    expect(devJwtSecret(tmp()).secret).not.toBe(first.secret);
  });

  it('tightens a loosened file and replaces one too short to be a secret', () => {
    const dir = tmp();
    const { file, secret } = devJwtSecret(dir);
    chmodSync(file, 0o644);
    expect(devJwtSecret(dir).secret).toBe(secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(file, 'short\n');
    const replaced = devJwtSecret(dir);
    expect(replaced.secret).not.toBe('short');
    expect(replaced.secret.length).toBeGreaterThanOrEqual(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('is what loadConfig uses outside production when JWT_SECRET is unset', () => {
    const dir = tmp();
    const a = loadConfig({ DATA_DIR: dir }, { devJwtSecret });
    const b = loadConfig({ DATA_DIR: dir, NODE_ENV: 'test' }, { devJwtSecret });
    expect(a.jwt.source).toBe('data-dir');
    expect(b.jwt.secret).toBe(a.jwt.secret);
    expect(a.jwt.file).toBe(path.resolve(dir, 'jwt-secret'));
  });
});
