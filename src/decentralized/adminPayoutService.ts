import type { Principal } from '../auth/tokens.js';
import type { HotWallet } from '../chain/hotWallet.js';
import type { Clock } from '../common/clock.js';
import { AppError } from '../common/errors.js';
import { newObjectId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import { toBaseUnits } from '../common/money.js';
import type { Config } from '../config/config.js';
import { to, type PaymentEvents } from '../events/paymentEvents.js';
import type { KeyedLock } from '../payments/keyedLock.js';
import type { PaymentCoordinator } from '../payments/paymentCoordinator.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { AdminPayoutInput } from './decentralizedSchemas.js';

const RECEIPT_TIMEOUT_MS = 120_000;

/**
 * An admin pays a seller straight from the hot wallet (no SHKeeper). The outbound Payment is
 * written before anything is broadcast, so a crash leaves a record to reconcile, never an
 * unrecorded transfer; a balance too low is refused before anything is recorded; the transfer is
 * broadcast once and its receipt decides the outcome. One payout per purchase request unless forced.
 */
export class AdminPayoutService {
  constructor(
    private readonly d: {
      config: Config;
      store: Store;
      coordinator: PaymentCoordinator;
      events: PaymentEvents;
      lock: KeyedLock;
      clock: Clock;
      logger: Logger;
      wallet?: HotWallet;
    },
  ) {}

  async pay(who: Principal, input: AdminPayoutInput) {
    const { store, config } = this.d;
    const wallet = this.d.wallet;
    if (!wallet) throw new AppError('unavailable', 'no hot wallet is configured (ADMIN_WALLET_PRIVATE_KEY, BSC_RPC_URL)', { code: 'not_configured' });
    const request = await store.purchaseRequests.findById(input.purchaseRequestId);
    if (!request) throw new AppError('not_found', 'purchase request not found', { code: 'purchase_request_not_found' });
    const liveKey = `adminpayout:${request.id}`;
    const amount = toBaseUnits(input.amount, config.bsc.usdtDecimals);

    return this.d.lock.withLock(liveKey, async () => {
      const live = await store.payments.findOne({ liveOfferKey: liveKey });
      if (live && !input.force) {
        throw new AppError('conflict', 'this purchase request already has an admin payout; pass force to send another', {
          code: 'payout_exists',
          details: { payoutId: live.id, status: live.status },
        });
      }
      const balance = await wallet.tokenBalance(config.bsc.usdtAddress);
      if (balance < amount) {
        throw new AppError('invalid_state', 'the hot wallet holds less than this payout', { code: 'insufficient_balance' });
      }
      const payout = await this.record(who, input, request.buyerId, live ? null : liveKey);
      this.d.events.emit(to.global, 'payout-created', { payoutId: payout.id, status: payout.status });

      let sent;
      try {
        sent = await wallet.sendTokenTransfer(config.bsc.usdtAddress, input.receiverWalletAddress, amount);
      } catch (err) {
        await this.finish(payout, 'failed', { reason: (err as AppError).code ?? 'send_failed' });
        throw err;
      }
      await this.d.coordinator.transition(payout.id, {
        to: 'processing', source: 'admin_payout', actor: who.userId, set: { transactionHash: sent.txHash, 'providerData.nonce': sent.nonce },
      });
      const receipt = await wallet.waitForReceipt(sent.txHash, RECEIPT_TIMEOUT_MS);
      if (!receipt) {
        // Broadcast but not yet mined: the payout stays processing with its hash; never re-sent.
        return this.answer(await this.reload(payout.id), sent.txHash, null, 'broadcast; waiting for the receipt');
      }
      const done = await this.finish(payout, receipt.status === 'success' ? 'completed' : 'failed', {
        reason: receipt.status === 'success' ? undefined : 'reverted',
        set: { 'providerData.receipt': receipt },
      });
      return this.answer(done, sent.txHash, receipt, receipt.status === 'success' ? 'payout sent' : 'the transfer reverted');
    });
  }

  private async finish(p: PaymentRecord, status: 'completed' | 'failed', o: { reason?: string; set?: Record<string, unknown> }) {
    const { payment, changed } = await this.d.coordinator.transition(p.id, {
      to: status, source: 'admin_payout', actor: 'system', reason: o.reason, set: o.set,
    });
    if (changed) {
      const event = status === 'completed' ? 'payout-completed' : 'payout-updated';
      this.d.events.emit(to.global, event, { payoutId: payment.id, status: payment.status, ...(payment.transactionHash ? { transactionHash: payment.transactionHash } : {}) });
    }
    return payment;
  }

  private async reload(id: string) {
    return (await this.d.store.payments.findById(id))!;
  }

  private answer(p: PaymentRecord, txHash: string, receipt: unknown, message: string) {
    return {
      success: p.status !== 'failed',
      message,
      data: {
        payoutId: p.id,
        status: p.status,
        transactionHash: txHash,
        from: this.d.wallet!.address,
        to: p.payAddress,
        amount: p.amount.amount,
        currency: p.amount.currency,
        receipt,
      },
    };
  }

  private record(who: Principal, input: AdminPayoutInput, buyerId: string, liveKey: string | null) {
    const id = newObjectId(this.d.clock.now());
    return this.d.coordinator.create(
      {
        id, provider: 'admin_wallet', direction: 'out', status: 'pending', escrowState: 'unfunded',
        purchaseRequestId: input.purchaseRequestId, sellerOfferId: null, buyerId, sellerId: null,
        amount: { amount: input.amount, currency: input.currency }, blockchain: { network: input.network, token: input.currency },
        transactionHash: null, externalId: `ADMINPAY_${id}`, paymentUrl: null, payAddress: input.receiverWalletAddress,
        expiresAt: null, providerTaskId: null, releaseTxHash: null, refundTxHash: null, liveOfferKey: liveKey,
        providerData: { forced: input.force === true }, metadata: {},
      },
      'admin_payout',
      who.userId,
    );
  }
}
