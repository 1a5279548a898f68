import type { Request, RequestHandler } from 'express';
import { fail } from '../errors.js';
import type { Principal, TokenService } from './tokens.js';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

/** 401 without a valid bearer token. */
export function requireAuth(tokens: TokenService): RequestHandler {
  return (req, _res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) throw fail('missing_token');
    req.principal = tokens.verify(token);
    next();
  };
}

/** A token is optional, but one that is sent must be valid (401 otherwise). */
export function optionalAuth(tokens: TokenService): RequestHandler {
  return (req, _res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (token) req.principal = tokens.verify(token);
    next();
  };
}

/** 401 without a token, 403 for a signed-in user who is not an admin. */
export function requireAdmin(tokens: TokenService): RequestHandler {
  const auth = requireAuth(tokens);
  return (req, res, next) => {
    auth(req, res, () => {
      if (!req.principal?.isAdmin) throw fail('admin_required');
      next();
    });
  };
}

/**
 * 401 without a token; 403 `admin_required` (its message naming both) unless the token is a service
 * credential (`role: "service"`) or an admin's. For the marketplace's ingest routes only.
 */
export function requireServiceOrAdmin(tokens: TokenService): RequestHandler {
  const auth = requireAuth(tokens);
  return (req, res, next) => {
    auth(req, res, () => {
      if (!req.principal?.isService && !req.principal?.isAdmin) {
        throw fail('admin_required', { message: 'a service credential (role "service") or the admin role is required' });
      }
      next();
    });
  };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw fail('missing_token');
  return req.principal;
}
