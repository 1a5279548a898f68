import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
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

  constructor(secret: string) {
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  verify(token: string): Principal {
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
    return { userId: id, isAdmin };
  }

  sign(claims: { sub: string; role?: string; roles?: string[] }, expiresInSeconds = 3600): string {
    return jwt.sign(claims, this.key, { algorithm: ALGORITHM, expiresIn: expiresInSeconds });
  }
}
