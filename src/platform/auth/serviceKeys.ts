import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { fail } from '../errors.js';
import type { Principal } from './tokens.js';

/** One marketplace backend's key, as configured: its name and the SHA-256 (hex) of the key. */
export interface ServiceKey {
  name: string;
  sha256: string;
}

/** The header a service key travels in. */
export const SERVICE_KEY_HEADER = 'x-service-key';

const sha256 = (v: string) => createHash('sha256').update(v, 'utf8').digest();

/**
 * A new key and its configuration entry (`npm run service-key -- <name>`): the key goes to the
 * marketplace's backend, only the entry (`name:sha256`) into SERVICE_API_KEYS. The service never
 * holds the key itself, so its configuration leaking does not leak the credential.
 */
export function newServiceKey(name: string): { key: string; entry: string } {
  const key = `svc_${randomBytes(32).toString('base64url')}`;
  return { key, entry: `${name}:${sha256(key).toString('hex')}` };
}

/**
 * The principal an `X-Service-Key` names: `service:<name>`, a service and never an admin. Compares
 * the key's SHA-256 with each configured one in constant time. Throws 401 `invalid_service_key`
 * for a key that matches none (or when none is configured).
 */
export function servicePrincipal(key: string, keys: readonly ServiceKey[]): Principal {
  const digest = sha256(key);
  const match = keys.find((k) => timingSafeEqual(Buffer.from(k.sha256, 'hex'), digest));
  if (!match) throw fail('invalid_service_key');
  return Object.freeze({ userId: `service:${match.name}`, isAdmin: false, isService: true as const });
}

/**
 * Parses SERVICE_API_KEYS: comma-separated `name:sha256hex` entries (name: 1–64 of A-Z a-z 0-9 _ . -).
 * Returns the keys, or the problem with the first bad entry (without echoing a value).
 */
export function parseServiceKeys(raw: string | undefined): { keys: ServiceKey[] } | { problem: string } {
  const keys: ServiceKey[] = [];
  for (const [i, entry] of (raw ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .entries()) {
    const m = /^([A-Za-z0-9_.-]{1,64}):([0-9a-f]{64})$/.exec(entry);
    if (!m) return { problem: `entry ${i + 1} is not name:sha256 (64 lower-case hex; npm run service-key -- <name> prints one)` };
    keys.push({ name: m[1]!, sha256: m[2]! });
  }
  return { keys };
}
