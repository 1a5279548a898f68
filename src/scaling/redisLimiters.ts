import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { LimiterFactory } from '../limits/rateLimits.js';

/** Rate-limit counters shared by every instance. */
export function redisLimiters(redis: Redis): LimiterFactory {
  return (name, points, duration) => new RateLimiterRedis({ storeClient: redis, keyPrefix: name, points, duration });
}
