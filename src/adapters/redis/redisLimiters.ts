import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { LimiterFactory } from '../../platform/http/rateLimits.js';

/**
 * Rate-limit counters shared by every instance. While Redis is away, each instance counts on its
 * own (the library's insurance limiter): limits loosen by the number of instances for that time,
 * but the API keeps answering — only requests that need a lock fail with 503.
 */
export function redisLimiters(redis: Redis): LimiterFactory {
  return (name, points, duration) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: name,
      points,
      duration,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${name}:local`, points, duration }),
    });
}
