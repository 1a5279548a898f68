import type { Principal } from '../auth/tokens.js';
import type { Clock } from '../common/clock.js';
import { AppError } from '../common/errors.js';
import { newObjectId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { Config } from '../config/config.js';
import { to, type PaymentEvents } from '../events/paymentEvents.js';
import type { KeyedLock } from '../payments/keyedLock.js';
import type { PaymentCoordinator } from '../payments/paymentCoordinator.js';
import { cryptoIdFor } from '../shkeeper/cryptoIds.js';
import type { ShkeeperClient } from '../shkeeper/shkeeperClient.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { PayoutInput } from './payoutSchemas.js';
import type { PayoutUpdates } from './payoutUpdates.js';

/** When a call fails this way SHKeeper may still have taken the payout: reconcile, never re-pay. */
const AMBIGUOUS = new Set(['shkeeper_timeout', 'shkeeper_unreachable', 'shkeeper_duplicate_payout']);

export const payoutCallbackUrl = (config: Config) => `${config.publicBaseUrl}/api/payment/shkeeper/payout/webhook`;

/**
 * Payouts to sellers through SHKeeper. The outbound Payment is written before SHKeeper is called
 * and its id is SHKeeper's `external_id`, which SHKeeper refuses to pay twice. One live payout per
 * offer unless an admin forces another. A refusal marks the payout failed; a lost answer leaves it
 * pending for the reconciler to resolve by external id, because it may have been paid.
 */
export class PayoutService {
  constructor(
    private readonly d: {
      config: Config;
      store: Store;
      coordinator: PaymentCoordinator;
      events: PaymentEvents;
      lock: KeyedLock;
      clock: Clock;
      logger: Logger;
      updates: PayoutUpdates;
      shkeeper?: ShkeeperClient;
    },
  ) {}

  async create(who: Principal, input: PayoutInput) {
    const { store } = this.d;
    const crypto = cryptoIdFor(input.token, input.network);
    const request = await store.purchaseRequests.findById(input.purchaseRequestId);
    if (!request) throw new AppError('not_found', 'purchase request not found', { code: 'purchase_request_not_found' });
    const offer = await store.sellerOffers.findById(input.sellerOfferId);
    if (!offer) throw new AppError('not_found', 'seller offer not found', { code: 'seller_offer_not_found' });
    if (offer.purchaseRequestId !== request.id || offer.sellerId !== input.sellerId || request.buyerId !== input.buyerId) {
      throw new AppError('conflict', 'purchase request, offer, buyer and seller do not belong together', { code: 'records_do_not_match' });
    }
    const shkeeper = this.d.shkeeper;
    if (!shkeeper) throw new AppError('unavailable', 'SHKeeper is not configured (SHKEEPER_API_URL)', { code: 'not_configured' });
    const liveKey = `payout:${offer.id}`;

    return this.d.lock.withLock(liveKey, async () => {
      const live = await store.payments.findOne({ liveOfferKey: liveKey });
      if (live && !input.force) {
        throw new AppError('conflict', 'this offer already has a live payout; pass force to send another', {
          code: 'payout_exists',
          details: { payoutId: live.id, status: live.status },
        });
      }
      // Forcing a second payout while SHKeeper may still be paying the first could pay twice.
      const unknown = await store.payments.findOne({
        direction: 'out', sellerOfferId: offer.id, status: { $in: ['pending', 'processing'] }, 'providerData.submission.outcome': 'unknown',
      });
      if (unknown) {
        throw new AppError('conflict', 'an earlier payout for this offer may still be paying; wait for it to be reconciled', {
          code: 'payout_outcome_unknown',
          details: { payoutId: unknown.id },
        });
      }
      const payout = await this.insert(who, input, live ? null : liveKey);
      let taskId: string;
      try {
        ({ taskId } = await shkeeper.createPayout(crypto, {
          amount: input.amount,
          destination: input.recipientAddress,
          fee: this.d.config.shkeeper.payoutFee,
          callbackUrl: payoutCallbackUrl(this.d.config),
          externalId: payout.externalId!,
        }));
      } catch (err) {
        await this.recordFailure(payout, err);
        throw err;
      }
      const { payment } = await this.d.coordinator.transition(payout.id, {
        to: 'processing',
        source: 'shkeeper_payout',
        actor: who.userId,
        set: { providerTaskId: taskId },
      });
      this.d.events.emit(to.global, 'payout-created', { payoutId: payment.id, status: payment.status });
      return { success: true as const, data: { payoutId: payment.id, taskId, status: payment.status }, message: 'payout created' };
    });
  }

  /** Polls SHKeeper's task and moves the payout to match; parties of the payout and admins only. */
  async status(who: Principal, taskId: string) {
    const payout = await this.d.store.payments.findOne({ providerTaskId: taskId, direction: 'out' });
    if (!payout || !(who.isAdmin || who.userId === payout.sellerId || who.userId === payout.buyerId)) {
      throw new AppError('not_found', 'payout not found', { code: 'payout_not_found' });
    }
    const shkeeper = this.d.shkeeper;
    if (!shkeeper) throw new AppError('unavailable', 'SHKeeper is not configured (SHKEEPER_API_URL)', { code: 'not_configured' });
    const task = await shkeeper.getTask(this.cryptoOf(payout), taskId);
    const updated = await this.d.updates.applyTask(payout, task, 'payout_status');
    return { success: true as const, data: { taskId, status: task.status, result: task.result, payoutId: updated.id, payoutStatus: updated.status } };
  }

  cryptoOf(p: PaymentRecord): string {
    return cryptoIdFor(p.blockchain?.token ?? 'USDT', p.blockchain?.network ?? 'bsc');
  }

  private async recordFailure(payout: PaymentRecord, err: unknown) {
    const code = err instanceof AppError ? err.code : 'error';
    if (AMBIGUOUS.has(code)) {
      await this.d.coordinator.patch(payout.id, { 'providerData.submission': { outcome: 'unknown', code } });
      this.d.logger.warn({ paymentId: payout.id, code }, 'payout submission outcome unknown; left for reconciliation');
      return;
    }
    await this.d.coordinator.transition(payout.id, { to: 'failed', source: 'shkeeper_payout', actor: 'system', reason: code });
  }

  private insert(who: Principal, input: PayoutInput, liveKey: string | null) {
    const id = newObjectId(this.d.clock.now());
    return this.d.coordinator.create(
      {
        id,
        provider: 'shkeeper',
        direction: 'out',
        status: 'pending',
        escrowState: 'unfunded',
        purchaseRequestId: input.purchaseRequestId,
        sellerOfferId: input.sellerOfferId,
        buyerId: input.buyerId,
        sellerId: input.sellerId,
        amount: { amount: input.amount, currency: input.token },
        blockchain: { network: input.network, token: input.token },
        transactionHash: null,
        externalId: `PAYOUT_${id}`,
        paymentUrl: null,
        payAddress: input.recipientAddress,
        expiresAt: null,
        providerTaskId: null,
        releaseTxHash: null,
        refundTxHash: null,
        liveOfferKey: liveKey,
        providerData: { forced: input.force === true },
        metadata: input.metadata ?? {},
      },
      'shkeeper_payout',
      who.userId,
    );
  }
}
