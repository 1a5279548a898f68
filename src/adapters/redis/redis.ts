import { Redis } from 'ioredis';
import type { Logger } from '../../platform/logger.js';

/**
 * A Redis connection for locks, leases and counters. Commands fail at once while Redis is away
 * (no offline queue), so a request that needs Redis gets a clear 503 instead of hanging; the
 * client keeps reconnecting in the background and the service recovers when Redis returns.
 */
export function createRedis(url: string, logger: Logger, name = 'main'): Redis {
  const redis = new Redis(url, {
    connectionName: `escrow-payment:${name}`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(200 * attempt, 2_000),
    lazyConnect: false,
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.warn({ err: err.message, connection: name }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info({ connection: name }, 'redis connection restored');
    down = false;
  });
  return redis;
}

/** A subscriber/publisher pair for the Socket.IO adapter: these queue while reconnecting. */
export function createPubSub(url: string, logger: Logger): { pub: Redis; sub: Redis } {
  const make = (name: string) => {
    const r = new Redis(url, { connectionName: `escrow-payment:${name}`, retryStrategy: (n) => Math.min(200 * n, 2_000) });
    r.on('error', (err: Error) => logger.debug({ err: err.message, connection: name }, 'redis pub/sub error'));
    return r;
  };
  return { pub: make('io-pub'), sub: make('io-sub') };
}
