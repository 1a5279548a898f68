import { Redlock, type Lock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';
import type { Logger } from '../../platform/logger.js';

/**
 * Background monitors run on one instance at a time: the holder of a Redis lease. The holder
 * extends it every third of its lifetime; the others try to take it on the same beat, so when the
 * holder dies another takes over within the lease time. A run starts only while the lease has more
 * than a safety margin left, so a holder that lost it (a long pause) stops before another begins.
 */
export class MonitorLeader {
  private readonly redlock: Redlock;
  private lock?: Lock;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Called each time this instance takes the lease (a new leader catches up at once). */
  onAcquire?: () => void;

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly leaseMs = 10_000,
    private readonly key = 'leader:monitors',
  ) {
    this.redlock = new Redlock([redis], { retryCount: 0 });
    this.redlock.on('error', () => undefined);
  }

  /** True while this instance holds the lease with a margin to spare. */
  isLeader(): boolean {
    return this.lock !== undefined && this.lock.expiration - this.leaseMs / 3 > Date.now();
  }

  status() {
    return { leader: this.isLeader(), leaseMs: this.leaseMs, leaseExpiresAt: this.lock ? new Date(this.lock.expiration).toISOString() : null };
  }

  /**
   * Starts beating. Resolves once the first attempt to take the lease is settled (after waiting up
   * to `connectWaitMs` for Redis to connect), so monitors started next already know whether they
   * lead: their start-up pass (the effects sweeper's) is not skipped on the instance that leads.
   */
  async start(connectWaitMs = 2_000): Promise<void> {
    this.stopped = false;
    if (this.redis.status !== 'ready') await connected(this.redis, connectWaitMs);
    if (!this.stopped) await this.beat();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const lock = this.lock;
    this.lock = undefined;
    // Handing the lease back lets another instance take over at once instead of after expiry.
    await lock?.release().catch(() => undefined);
  }

  private async beat(): Promise<void> {
    try {
      if (this.lock) {
        this.lock = await this.lock.extend(this.leaseMs);
      } else {
        this.lock = await this.redlock.acquire([this.key], this.leaseMs);
        this.logger.info({ leaseMs: this.leaseMs }, 'took the monitor lease: running background monitors here');
        this.onAcquire?.();
      }
    } catch {
      if (this.lock) this.logger.warn('lost the monitor lease: monitors pause here');
      this.lock = undefined;
    }
    if (!this.stopped) {
      // Until Redis answers, try again soon rather than a whole beat later.
      const next = this.redis.status === 'ready' ? this.leaseMs / 3 : 200;
      this.timer = setTimeout(() => void this.beat(), next);
      this.timer.unref();
    }
  }
}

/** Resolves when the connection is ready or after `ms`, whichever comes first. */
function connected(redis: Redis, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    redis.once('ready', done);
  });
}
