import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import type { Config } from '../../platform/config.js';
import { IntervalMonitor } from '../../platform/monitors/intervalMonitor.js';
import type { ShkeeperClient } from '../../adapters/shkeeper/shkeeperClient.js';
import type { PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import type { PayoutService } from './payoutService.js';
import type { PayoutUpdates } from './payoutUpdates.js';

const BATCH = 100;

/**
 * SHKeeper sends no callback when a payout fails, and a success callback can be lost, so payouts
 * still open after a while are polled — in the crypto each was submitted in — through their task
 * when we have its id, else by external id (a submission whose answer was lost: its escrow's
 * disbursement is in doubt). What SHKeeper answers moves the payout and its escrow (see
 * PayoutUpdates). SHKeeper knowing no payout by that id means our request never reached it: the
 * payout and its disbursement fail, and the escrow may be paid out again.
 */
export class PayoutReconciler extends IntervalMonitor {
  private checked = 0;

  constructor(
    private readonly d: { config: Config; store: Store; clock: Clock; payouts: PayoutService; updates: PayoutUpdates; shkeeper?: ShkeeperClient },
    logger: Logger,
  ) {
    const m = d.config.monitors.payoutReconciler;
    super('payoutReconciler', m.intervalMs, m.enabled && d.shkeeper !== undefined, logger.child({ monitor: 'payoutReconciler' }));
  }

  protected details() {
    return { thresholdMs: this.d.config.monitors.payoutReconciler.afterMs, checked: this.checked, configured: !!this.d.shkeeper };
  }

  protected async runOnce(): Promise<void> {
    const { store, shkeeper, clock, config } = this.d;
    if (!shkeeper) return;
    const cutoff = new Date(clock.now().getTime() - config.monitors.payoutReconciler.afterMs);
    const open = await store.payments.find(
      { provider: 'shkeeper', direction: 'out', status: { $in: ['pending', 'processing'] }, updatedAt: { $lte: cutoff } },
      { sort: { updatedAt: 1 }, limit: BATCH },
    );
    let failures = 0;
    for (const p of open) {
      this.checked++;
      // One payout SHKeeper cannot answer for (oldest first, so always at the head of the batch)
      // must not keep every payout behind it from being reconciled.
      try {
        await this.reconcile(shkeeper, p);
      } catch (err) {
        failures++;
        this.logger.warn({ err, paymentId: p.id }, 'payout could not be reconciled; retried on the next run');
      }
    }
    if (failures > 0) throw new Error(`${failures} of ${open.length} payouts could not be reconciled`);
  }

  private async reconcile(shkeeper: ShkeeperClient, p: PaymentRecord): Promise<void> {
    const crypto = this.d.payouts.cryptoOf(p);
    if (p.providerTaskId) {
      await this.d.updates.applyTask(p, await shkeeper.getTask(crypto, p.providerTaskId), 'payout_reconciler');
      return;
    }
    const status = await shkeeper.payoutStatus(crypto, p.externalId!);
    if (status) await this.d.updates.applyStatus(p, status, 'payout_reconciler');
    else await this.d.updates.applyTask(p, { status: 'FAILURE', result: 'SHKeeper never received this payout' }, 'payout_reconciler');
  }
}
