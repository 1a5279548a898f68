import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { AppError } from '../common/errors.js';

export interface Principal {
  userId: string;
  isAdmin: boolean;
}

/** HS256 only: pinning the algorithm stops `alg: none` and key-confusion tokens. */
const ALGORITHM = 'HS256' as const;

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

  constructor(secret: string) {
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  verify(token: string): Principal {
    const cached = this.verified.get(token);
    if (cached) return cached;
    let claims: jwt.JwtPayload | string;
    try {
      claims = jwt.verify(token, this.key, { algorithms: [ALGORITHM] });
    } catch (err) {
      const expired = (err as Error).name === 'TokenExpiredError';
      throw new AppError('unauthorized', expired ? 'token has expired' : 'token is invalid', {
        code: expired ? 'token_expired' : 'invalid_token',
      });
    }
    if (typeof claims === 'string') throw new AppError('unauthorized', 'token is invalid', { code: 'invalid_token' });
    const id = [claims.sub, claims.id, claims.userId].find((v) => typeof v === 'string' && v.length > 0);
    if (typeof id !== 'string' || id.length > 128) {
      throw new AppError('unauthorized', 'token names no user', { code: 'invalid_token' });
    }
    const roles: unknown = claims.roles;
    const isAdmin = claims.role === 'admin' || (Array.isArray(roles) && roles.includes('admin'));
    const principal = Object.freeze({ userId: id, isAdmin });
    const ttlMs = typeof claims.exp === 'number' ? claims.exp * 1000 - Date.now() : 0;
    // Tokens without `exp` are re-verified every time rather than cached forever.
    if (ttlMs > 0) this.verified.set(token, principal, { ttl: ttlMs });
    return principal;
  }

  sign(claims: { sub: string; role?: string; roles?: string[] }, expiresInSeconds = 3600): string {
    return jwt.sign(claims, this.key, { algorithm: ALGORITHM, expiresIn: expiresInSeconds });
  }
}
