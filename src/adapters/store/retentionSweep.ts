import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import { IntervalMonitor } from '../../platform/monitors/intervalMonitor.js';
import type { Store } from '../../core/store/store.js';

/** As often as MongoDB's own TTL monitor looks for expired rows. */
export const RETENTION_SWEEP_INTERVAL_MS = 60_000;

/**
 * Deletes webhook deliveries, idempotency records, events and event deliveries whose `expiresAt` has passed. Only the
 * in-process store needs it: on MongoDB the TTL indexes on `expiresAt` (`expireAfterSeconds: 0`)
 * drop those rows on the server, so `retentionSweepFor` builds nothing there. Correctness does not
 * wait for a pass: the idempotency middleware drops an expired key before using it, and the
 * delivery log prunes its bad-signature sample as it writes; a late pass costs memory, and the
 * webhook stats count rows a little past their expiry.
 */
export class RetentionSweep extends IntervalMonitor {
  private deleted = { webhookDeliveries: 0, idempotencyKeys: 0, paymentEvents: 0, eventDeliveries: 0 };

  constructor(
    private readonly d: { store: Store; clock: Clock; intervalMs?: number },
    logger: Logger,
  ) {
    super('retentionSweep', d.intervalMs ?? RETENTION_SWEEP_INTERVAL_MS, true, logger.child({ monitor: 'retentionSweep' }));
  }

  /**
   * Never gated by leadership: the in-process store belongs to this process alone, so every
   * instance sweeps its own.
   */
  override setGate(): void {}

  protected details() {
    return { deleted: { ...this.deleted } };
  }

  protected async runOnce(): Promise<void> {
    const expired = { expiresAt: { $lte: this.d.clock.now() } };
    this.deleted.webhookDeliveries += await this.d.store.webhookDeliveries.deleteMany(expired);
    this.deleted.idempotencyKeys += await this.d.store.idempotencyKeys.deleteMany(expired);
    this.deleted.paymentEvents += await this.d.store.paymentEvents.deleteMany(expired);
    this.deleted.eventDeliveries += await this.d.store.eventDeliveries.deleteMany(expired);
  }
}

/** The sweep the app registers: one for the in-process store, none for MongoDB (TTL indexes). */
export function retentionSweepFor(d: { store: Store; clock: Clock; intervalMs?: number }, logger: Logger): RetentionSweep | undefined {
  return d.store.kind === 'memory' ? new RetentionSweep(d, logger) : undefined;
}
