import AsyncLock from 'async-lock';
import { fail } from './errors.js';

/**
 * Serialises multi-record steps (payment + offers + purchase request) that belong to one key.
 * The in-process implementation suffices for one instance; a lease in a shared store replaces it
 * when several instances run. Correctness never rests on the lock alone: every state change is
 * still a conditional update.
 */
export interface KeyedLock {
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

export class InProcessKeyedLock implements KeyedLock {
  private readonly lock: AsyncLock;

  constructor(opts: { timeoutMs?: number; maxPending?: number } = {}) {
    this.lock = new AsyncLock({ timeout: opts.timeoutMs ?? 30_000, maxPending: opts.maxPending ?? 10_000 });
  }

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.lock.acquire(key, fn);
    } catch (err) {
      const msg = (err as Error).message ?? '';
      if (msg.startsWith('async-lock timed out') || msg.startsWith('Too many pending')) {
        throw fail('lock_timeout', { cause: err });
      }
      throw err;
    }
  }
}
