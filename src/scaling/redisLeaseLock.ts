import { Redlock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';
import { AppError } from '../common/errors.js';
import type { KeyedLock } from '../payments/keyedLock.js';

/**
 * The coordinator's keyed lock across instances: a Redis lease (Redlock: a random owner token,
 * an expiry, release only by the owner) that is extended while the step runs. A lease can still
 * be lost (Redis failover, a long pause); that never double-applies anything, because every state
 * change is a conditional update in the store. The lease only keeps multi-record steps of one
 * payment from interleaving.
 */
export class RedisLeaseLock implements KeyedLock {
  private readonly redlock: Redlock;

  constructor(
    redis: Redis,
    private readonly leaseMs = 10_000,
  ) {
    // Waits up to ~30 s for a busy key, as the in-process lock does.
    this.redlock = new Redlock([redis], { retryCount: 150, retryDelay: 200, retryJitter: 100, automaticExtensionThreshold: 2_000 });
    // Extension failures surface through the routine's abort signal; nothing to do here.
    this.redlock.on('error', () => undefined);
  }

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.redlock.using([`lock:${key}`], this.leaseMs, () => fn());
    } catch (err) {
      if (err instanceof AppError) throw err;
      const name = (err as Error)?.name ?? '';
      if (name === 'ExecutionError' || name === 'ResourceLockedError' || /redis|connection|closed|ECONN/i.test(String(err))) {
        throw new AppError('unavailable', 'the coordination service is unavailable; try again', { code: 'lock_unavailable', cause: err });
      }
      throw err;
    }
  }
}
