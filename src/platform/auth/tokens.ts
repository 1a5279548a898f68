import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { fail } from '../errors.js';

/**
 * Who a verified token names. `isService` (claim `role: "service"`, or `roles` containing
 * "service") marks the marketplace's backend: it may use the ingest routes
 * (`PUT /purchase-requests/:id`, `PUT /seller-offers/:id`) and is an ordinary user everywhere
 * else. A service principal is never an admin, even when its token also claims the admin role.
 * Present (true) only on service principals.
 */
export interface Principal {
  userId: string;
  isAdmin: boolean;
  isService?: true;
}

/** HS256 only: pinning the algorithm stops `alg: none` and key-confusion tokens. */
const ALGORITHM = 'HS256' as const;
/** The default longest token lifetime (JWT_MAX_LIFETIME_SECONDS). */
export const DEFAULT_MAX_LIFETIME_SECONDS = 86_400;
/** Allowance for the signer's clock running ahead of ours when `exp − now` is checked. */
const CLOCK_SKEW_SECONDS = 60;

export interface TokenOptions {
  /** Longest accepted lifetime: exp − iat, and exp − now (give or take a minute of clock skew). */
  maxLifetimeSeconds?: number;
}

export class TokenService {
  /**
   * A prebuilt secret key: given a plain string, jsonwebtoken first tries (and fails) to parse
   * it as a public key on every verify, which cost ~300 µs per request.
   */
  private readonly key: KeyObject;
  /**
   * Clients send the same token on every request, so a verified token is remembered until its
   * own expiry (never longer): the signature and claims of a given string cannot change. Bounded
   * in entries; only successfully verified tokens are kept.
   */
  private readonly verified = new LRUCache<string, Principal>({ max: 10_000 });

  readonly maxLifetimeSeconds: number;

  constructor(secret: string, options: TokenOptions = {}) {
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
    this.maxLifetimeSeconds = options.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS;
  }

  /**
   * The last token verified, until its expiry: a request is checked twice with the same token (the
   * rate limiter, then the route's auth), and one client's requests usually follow each other.
   */
  private last: { token: string; principal: Principal; expiresAtMs: number } | undefined;

  verify(token: string): Principal {
    const last = this.last;
    if (last !== undefined && last.token === token && Date.now() < last.expiresAtMs) return last.principal;
    const cached = this.verified.get(token);
    if (cached) return cached;
    let claims: jwt.JwtPayload | string;
    try {
      claims = jwt.verify(token, this.key, { algorithms: [ALGORITHM] });
    } catch (err) {
      const expired = (err as Error).name === 'TokenExpiredError';
      throw fail(expired ? 'token_expired' : 'invalid_token');
    }
    if (typeof claims === 'string') throw fail('invalid_token');
    this.checkLifetime(claims);
    const id = [claims.sub, claims.id, claims.userId].find((v) => typeof v === 'string' && v.length > 0);
    if (typeof id !== 'string' || id.length > 128) {
      throw fail('invalid_token', { message: 'token names no user' });
    }
    const roles: unknown = claims.roles;
    const hasRole = (role: string) => claims.role === role || (Array.isArray(roles) && roles.includes(role));
    // A service credential never carries admin rights: a leaked marketplace token must not release escrows.
    const principal: Principal = hasRole('service')
      ? Object.freeze({ userId: id, isAdmin: false, isService: true as const })
      : Object.freeze({ userId: id, isAdmin: hasRole('admin') });
    const expiresAtMs = (claims.exp as number) * 1000;
    const ttlMs = expiresAtMs - Date.now();
    if (ttlMs > 0) {
      this.verified.set(token, principal, { ttl: ttlMs });
      this.last = { token, principal, expiresAtMs };
    }
    return principal;
  }

  /** Every token must expire, and within the configured maximum lifetime. */
  private checkLifetime(claims: jwt.JwtPayload): void {
    const { exp, iat } = claims;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) {
      throw fail('token_without_expiry');
    }
    const now = Date.now() / 1000;
    const max = this.maxLifetimeSeconds;
    // exp − iat is the lifetime it was issued with; exp − now also catches an iat set in the future.
    const tooLong = (typeof iat === 'number' && exp - iat > max) || exp - now > max + CLOCK_SKEW_SECONDS;
    if (tooLong) {
      throw fail('token_lifetime_too_long', { message: `token lifetime exceeds the maximum of ${max} seconds` });
    }
  }

  sign(claims: { sub: string; role?: string; roles?: string[] }, expiresInSeconds = 3600): string {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds <= 0 || expiresInSeconds > this.maxLifetimeSeconds) {
      throw new RangeError(`token lifetime must be a whole number of seconds from 1 to ${this.maxLifetimeSeconds}`);
    }
    return jwt.sign(claims, this.key, { algorithm: ALGORITHM, expiresIn: expiresInSeconds });
  }
}
