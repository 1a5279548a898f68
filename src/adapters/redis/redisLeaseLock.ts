import { Redlock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';
import { AppError, fail } from '../../platform/errors.js';
import type { KeyedLock } from '../../platform/keyedLock.js';

/**
 * The coordinator's keyed lock across instances: a Redis lease (Redlock: a random owner token,
 * an expiry, release only by the owner) that is extended while the step runs. A lease can still
 * be lost (Redis failover, a long pause); that never double-applies anything, because every state
 * change is a conditional update in the store. The lease only keeps multi-record steps of one
 * payment from interleaving.
 *
 * A busy key is waited for (up to ~30 s, as the in-process lock does); Redis being away is not:
 * the caller gets `lock_unavailable` at once instead of after the whole wait. A release that fails
 * after the step ran does not turn its result into an error: the lease runs out by itself.
 */
export class RedisLeaseLock implements KeyedLock {
  private readonly redlock: Redlock;

  constructor(
    private readonly redis: Redis,
    private readonly leaseMs = 10_000,
    private readonly waitMs = 30_000,
  ) {
    // An acquisition (and each extension) tries five times, ~1 s in all (the options given to
    // `using`); `withLock` keeps waiting for a busy key while Redis answers. A release is tried once.
    this.redlock = new Redlock([redis], { retryCount: 0, retryDelay: 200, retryJitter: 100, automaticExtensionThreshold: 2_000 });
    // Extension failures surface through the routine's abort signal; nothing to do here.
    this.redlock.on('error', () => undefined);
  }

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      if (this.redis.status !== 'ready') throw unavailable(new Error(`redis connection is ${this.redis.status}`));
      const ran: { outcome?: { ok: true; value: T } | { ok: false; error: unknown } } = {};
      try {
        await this.redlock.using([`lock:${key}`], this.leaseMs, { retryCount: 4 }, async () => {
          try {
            ran.outcome = { ok: true, value: await fn() };
          } catch (error) {
            ran.outcome = { ok: false, error };
          }
        });
      } catch (err) {
        // Thrown after the step ran means only the release failed: the step's outcome stands.
        if (ran.outcome === undefined) {
          if (err instanceof AppError) throw err;
          const name = (err as Error)?.name ?? '';
          const lockError = name === 'ExecutionError' || name === 'ResourceLockedError';
          // Not acquired while Redis answers: the key is busy; wait for it (bounded).
          if (lockError && this.redis.status === 'ready' && Date.now() < deadline) continue;
          if (lockError || /redis|connection|closed|writeable|ECONN/i.test(String(err))) throw unavailable(err);
          throw err;
        }
      }
      const { outcome } = ran;
      if (outcome === undefined) throw unavailable(new Error('lock routine did not run'));
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    }
  }
}

const unavailable = (cause: unknown) => fail('lock_unavailable', { cause });
