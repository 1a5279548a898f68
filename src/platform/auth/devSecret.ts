import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Shorter content than this in the file is not trusted as a secret: a fresh one replaces it. */
const MIN_LENGTH = 32;

/**
 * Outside production, with no JWT_SECRET: a random secret generated once and kept in
 * `DATA_DIR/jwt-secret` (mode 0600), so the service and `npm run token` / `npm run seed` sign
 * with the same one and nothing secret is ever written in the source. Two processes starting at
 * once agree: the file is created exclusively and the loser reads the winner's secret.
 */
export function devJwtSecret(dataDir: string): { secret: string; file: string } {
  const file = path.resolve(dataDir, 'jwt-secret');
  const existing = readSecret(file);
  if (existing) return { secret: existing, file };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString('base64url');
  try {
    // `wx`: never overwrite a secret another process has just written.
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return { secret, file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const raced = readSecret(file);
    if (raced) return { secret: raced, file };
    // An existing file too short to be a secret (empty, truncated): replace it.
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    return { secret, file };
  }
}

function readSecret(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (text.length < MIN_LENGTH) return undefined;
  // Tighten a file someone loosened: the secret mints admin tokens.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return text;
}
