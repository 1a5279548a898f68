import type { Logger } from '../../platform/logger.js';
import { IntervalMonitor } from '../../platform/monitors/intervalMonitor.js';
import type { AdminPayoutService } from './adminPayoutService.js';

/**
 * A hot-wallet payout whose receipt was not known when it was broadcast stays in flight on its
 * escrow (nothing else may leave it). This monitor reads those receipts and lets the chain decide:
 * settled on success, failed (the escrow free again) on a revert.
 */
export class HotWalletReceiptMonitor extends IntervalMonitor {
  private decided = 0;

  constructor(
    private readonly payouts: AdminPayoutService,
    o: { intervalMs: number; enabled: boolean },
    logger: Logger,
  ) {
    super('hotWalletReceipts', o.intervalMs, o.enabled, logger.child({ monitor: 'hotWalletReceipts' }));
  }

  protected details() {
    return { decided: this.decided };
  }

  protected async runOnce(): Promise<void> {
    this.decided += await this.payouts.resolveBroadcasts();
  }
}
