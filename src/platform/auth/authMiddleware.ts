import type { Request, RequestHandler } from 'express';
import { fail } from '../errors.js';
import { SERVICE_KEY_HEADER, servicePrincipal, type ServiceKey } from './serviceKeys.js';
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
 * For the marketplace's ingest routes only. An `X-Service-Key` one of `keys` names is the service
 * `service:<name>` (401 `invalid_service_key` for any other key); otherwise a bearer token is
 * required (401 without one) and must be a service credential (`role: "service"`) or an admin's
 * (403 `admin_required`, its message naming both). A key opens nothing else: no other route reads it.
 */
export function requireServiceOrAdmin(tokens: TokenService, keys: readonly ServiceKey[] = []): RequestHandler {
  const auth = requireAuth(tokens);
  return (req, res, next) => {
    const key = req.headers[SERVICE_KEY_HEADER];
    if (key !== undefined) {
      req.principal = servicePrincipal(Array.isArray(key) ? key.join(',') : key, keys);
      next();
      return;
    }
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
