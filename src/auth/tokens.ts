import jwt from 'jsonwebtoken';
import { AppError } from '../common/errors.js';

export interface Principal {
  userId: string;
  isAdmin: boolean;
}

/** HS256 only: pinning the algorithm stops `alg: none` and key-confusion tokens. */
const ALGORITHM = 'HS256' as const;

export class TokenService {
  constructor(private readonly secret: string) {}

  verify(token: string): Principal {
    let claims: jwt.JwtPayload | string;
    try {
      claims = jwt.verify(token, this.secret, { algorithms: [ALGORITHM] });
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
    return jwt.sign(claims, this.secret, { algorithm: ALGORITHM, expiresIn: expiresInSeconds });
  }
}
