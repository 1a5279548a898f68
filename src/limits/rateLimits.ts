import type { Request, RequestHandler } from 'express';
import { rateLimit, type Store as RateLimitStore } from 'express-rate-limit';
import { bearerToken } from '../auth/authMiddleware.js';
import type { TokenService } from '../auth/tokens.js';
import { AppError } from '../common/errors.js';
import type { Config } from '../config/config.js';

export interface RateLimiters {
  /** Every API request, by client IP. */
  perIp: RequestHandler;
  /** Every request with a valid token, by user: one user cannot starve others behind one NAT. */
  perUser: RequestHandler;
  /** SHKeeper's deliveries, by IP, with a limit of their own so callbacks are never starved. */
  webhooks: RequestHandler;
}

/**
 * 429 in the one error shape, with Retry-After. Counters live in a store that is per process
 * unless one is passed in (shared across instances when scaled out).
 */
export function createRateLimiters(
  config: Config,
  tokens: TokenService,
  stores: { perIp?: RateLimitStore; perUser?: RateLimitStore; webhooks?: RateLimitStore } = {},
): RateLimiters {
  const { windowMs, perIp, perUser, webhooks } = config.rateLimits;
  const common = {
    windowMs,
    standardHeaders: 'draft-7' as const,
    legacyHeaders: false,
    // The proxy setting is ours (TRUST_PROXY); no warnings for headers we deliberately ignore.
    validate: { xForwardedForHeader: false, trustProxy: false },
    handler: (req: Request) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : Math.ceil(windowMs / 1000);
      throw new AppError('rate_limited', 'too many requests; slow down', { code: 'rate_limited', details: { retryAfterSeconds: seconds } });
    },
  };
  const userOf = (req: Request): string | undefined => {
    const token = bearerToken(req.headers.authorization);
    if (!token) return undefined;
    try {
      return tokens.verify(token).userId;
    } catch {
      return undefined;
    }
  };
  return {
    perIp: rateLimit({ ...common, limit: perIp, store: stores.perIp }),
    perUser: rateLimit({
      ...common,
      limit: perUser,
      store: stores.perUser,
      skip: (req) => userOf(req) === undefined,
      keyGenerator: (req) => `user:${userOf(req)}`,
    }),
    webhooks: rateLimit({ ...common, limit: webhooks, store: stores.webhooks }),
  };
}

/** Retry-After on every 429, including ours. */
export const retryAfterHeader: RequestHandler = (_req, res, next) => {
  const json = res.json.bind(res);
  res.json = (body: unknown) => {
    const secs = (body as { error?: { details?: { retryAfterSeconds?: number } } })?.error?.details?.retryAfterSeconds;
    if (res.statusCode === 429 && secs && !res.getHeader('Retry-After')) res.setHeader('Retry-After', String(secs));
    return json(body);
  };
  next();
};
