import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import { IntervalMonitor } from '../../platform/monitors/intervalMonitor.js';
import type { Store } from '../store/store.js';
import type { PaymentCoordinator } from './paymentCoordinator.js';
import type { PaymentEffects } from './paymentEffects.js';
import { SETTLED } from './transitions.js';

const BATCH = 100;

/**
 * Finishes the side effects a crash (or a store failure) left behind: payments whose outbox
 * still holds steps a while after their last write. Runs at start-up and then periodically, under
 * each payment's lock, so it never races the request that is still carrying them out.
 */
export class EffectsSweeper extends IntervalMonitor {
  private finished = 0;
  /** Records from before the ledger exist only in old data: once a pass finds none, none are left. */
  private legacyDone = false;

  constructor(
    private readonly d: { store: Store; coordinator: PaymentCoordinator; effects: PaymentEffects; clock: Clock; graceMs: number; intervalMs: number },
    logger: Logger,
  ) {
    super('effectsSweeper', d.intervalMs, true, logger.child({ monitor: 'effectsSweeper' }));
  }

  protected details() {
    return { finished: this.finished, graceMs: this.d.graceMs };
  }

  override start(): void {
    super.start();
    void this.tick();
  }

  protected async runOnce(): Promise<void> {
    if (!this.legacyDone) await this.adoptLegacyLedgers();
    const cutoff = new Date(this.d.clock.now().getTime() - this.d.graceMs);
    await this.failOrphanDisbursements(cutoff);
    const stuck = await this.d.store.payments.find({ pendingEffects: { $type: 'string' }, updatedAt: { $lte: cutoff } }, { limit: BATCH });
    for (const p of stuck) {
      await this.d.coordinator.withPaymentLock(p.id, async () => {
        const current = await this.d.store.payments.findById(p.id);
        if (!current || current.pendingEffects.length === 0) return;
        await this.d.effects.run(current);
        this.finished++;
        this.logger.warn({ paymentId: p.id }, 'finished side effects left behind');
      });
    }
  }

  /**
   * Payments settled before the escrow ledger existed get the ledger their state implies. Every
   * payment written since has one, so this runs from start-up until a pass finds none (the query
   * reads every settled payment: once per process, not every tick).
   */
  private async adoptLegacyLedgers(): Promise<void> {
    const legacy = await this.d.store.payments.find(
      { direction: 'in', status: { $in: [...SETTLED] }, 'escrow.credits.0': { $exists: false } },
      { limit: BATCH },
    );
    for (const p of legacy) {
      await this.d.coordinator.adoptLegacyLedger(p.id);
      this.logger.warn({ paymentId: p.id }, 'settled payment without a ledger: adopted its legacy escrow');
    }
    if (legacy.length < BATCH) this.legacyDone = true;
  }

  /**
   * A payout disbursement still `prepared` whose payout row was never written: the process died
   * between the two writes, before anything was sent (SHKeeper is called, and the hot wallet
   * broadcasts, only after the row exists). Nothing left the escrow, so the disbursement fails and
   * the escrow is free again.
   */
  private async failOrphanDisbursements(cutoff: Date): Promise<void> {
    const held = await this.d.store.payments.find(
      { 'escrow.inFlight.state': 'prepared', 'escrow.inFlight.method': { $in: ['shkeeper', 'hot_wallet'] }, updatedAt: { $lte: cutoff } },
      { limit: BATCH },
    );
    for (const p of held) {
      const d = p.escrow?.inFlight;
      if (!d?.payoutId || (await this.d.store.payments.findById(d.payoutId))) continue;
      await this.d.coordinator.moveDisbursement(p.id, d.id, 'failed', {
        source: 'effects_sweeper',
        actor: 'system',
        reason: 'never submitted: the payout record was not written',
      });
      this.logger.warn({ paymentId: p.id, disbursementId: d.id }, 'orphan payout disbursement failed; the escrow is free again');
    }
  }
}
