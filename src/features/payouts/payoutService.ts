import type { Principal } from '../../platform/auth/tokens.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, fail } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Config } from '../../platform/config.js';
import {
  assertFundingOnChain,
  assertPayoutAmount,
  checkPayoutRecipient,
  fundedEscrowOf,
  inFlightError,
  openPayout,
  payoutRecord,
} from '../../core/escrow/escrowRecipients.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import { to, type PaymentEvents } from '../../core/events/paymentEvents.js';
import { ledgerOf } from '../../core/payments/escrowLedger.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import { cryptoIdFor } from '../../adapters/shkeeper/cryptoIds.js';
import type { ShkeeperClient } from '../../adapters/shkeeper/shkeeperClient.js';
import type { PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import type { PayoutInput } from './payoutSchemas.js';
import type { PayoutUpdates } from './payoutUpdates.js';

/** When a call fails this way SHKeeper may still have taken the payout: reconcile, never re-pay. */
const AMBIGUOUS = new Set(['shkeeper_timeout', 'shkeeper_unreachable', 'shkeeper_duplicate_payout']);

export const payoutCallbackUrl = (config: Config) => `${config.publicBaseUrl}/api/payment/shkeeper/payout/webhook`;

/**
 * Payouts to sellers through SHKeeper: disbursements of the purchase request's funded escrow.
 * The payout pays that escrow's offer (its wallet, unless an admin gives a reason for another),
 * for at most what the escrow still holds. The disbursement is opened first — it holds the escrow
 * against every other way out — then the outbound Payment is written (its id is SHKeeper's
 * `external_id`, which SHKeeper refuses to pay twice), then SHKeeper is called. A refusal fails
 * both and frees the escrow; a lost answer leaves the disbursement in doubt and the payout
 * pending until SHKeeper's own word (task, status, callback, reconciler) settles or fails it.
 */
export class PayoutService {
  constructor(
    private readonly d: {
      proofs?: InflowProofs;
      config: Config;
      store: Store;
      coordinator: PaymentCoordinator;
      events: PaymentEvents;
      clock: Clock;
      logger: Logger;
      updates: PayoutUpdates;
      shkeeper?: ShkeeperClient;
    },
  ) {}

  async create(who: Principal, input: PayoutInput) {
    const { store, coordinator } = this.d;
    const crypto = cryptoIdFor(input.token, input.network);
    const request = await store.purchaseRequests.findById(input.purchaseRequestId);
    if (!request) throw fail('purchase_request_not_found');
    const offer = await store.sellerOffers.findById(input.sellerOfferId);
    if (!offer) throw fail('seller_offer_not_found');
    if (offer.purchaseRequestId !== request.id || offer.sellerId !== input.sellerId || request.buyerId !== input.buyerId) {
      throw fail('records_do_not_match');
    }
    const shkeeper = this.client();

    const escrow = await fundedEscrowOf(store, request.id);
    if (escrow.sellerOfferId !== offer.id) {
      throw fail('recipient_not_allowed', {
        message: 'the escrow of this purchase request pays another offer',
        details: { escrowPaymentId: escrow.id, sellerOfferId: escrow.sellerOfferId },
      });
    }
    if (escrow.amount.currency !== input.token) {
      throw fail('currency_mismatch', {
        message: `the escrow holds ${escrow.amount.currency}; it cannot pay ${input.token}`,
        details: { escrowCurrency: escrow.amount.currency, token: input.token },
      });
    }
    const override = checkPayoutRecipient(offer.walletAddress, input.recipientAddress, { adminId: who.userId, reason: input.overrideReason });
    const inFlight = ledgerOf(escrow).inFlight;
    if (inFlight) throw inFlightError(inFlight);
    assertPayoutAmount(escrow, input.amount);
    await assertFundingOnChain(this.d.proofs, escrow);

    const step = { source: 'shkeeper_payout', actor: who.userId };
    const { payout, disbursementId } = await openPayout(
      coordinator,
      escrow,
      {
        method: 'shkeeper',
        recipient: input.recipientAddress,
        amount: input.amount,
        override,
        createdBy: who.userId,
        source: step.source,
        now: this.d.clock.now(),
      },
      (ids) => this.insert(who, input, { id: ids.payoutId, escrowPaymentId: escrow.id, crypto, disbursementId: ids.disbursementId }),
    );
    // From here SHKeeper may have it: only SHKeeper's word moves the disbursement.
    await coordinator.moveDisbursement(escrow.id, disbursementId, 'submitted', { ...step, evidence: payout.externalId! });
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
      await this.recordFailure(escrow.id, disbursementId, payout, err);
      throw err;
    }
    const { payment } = await coordinator.transition(payout.id, { to: 'processing', ...step, set: { providerTaskId: taskId } });
    this.d.events.emit([to.admins, ...to.parties(payment)], 'payout-created', { payoutId: payment.id, status: payment.status });
    return { success: true as const, data: { payoutId: payment.id, taskId, status: payment.status }, message: 'payout created' };
  }

  /** Polls SHKeeper's task and moves the payout to match; parties of the payout and admins only. */
  async status(who: Principal, taskId: string) {
    const payout = await this.d.store.payments.findOne({ providerTaskId: taskId, direction: 'out' });
    if (!payout || !(who.isAdmin || who.userId === payout.sellerId || who.userId === payout.buyerId)) {
      throw fail('payout_not_found');
    }
    const shkeeper = this.client();
    const task = await shkeeper.getTask(this.cryptoOf(payout), taskId);
    const updated = await this.d.updates.applyTask(payout, task, 'payout_status');
    return { success: true as const, data: { taskId, status: task.status, result: task.result, payoutId: updated.id, payoutStatus: updated.status } };
  }

  /**
   * An admin asks SHKeeper now about an open payout (typically one in doubt after a lost answer)
   * and abandons it only if SHKeeper says it never received it or it failed: then the payout and
   * its disbursement fail and the escrow is free again. Anything else SHKeeper says is applied as
   * evidence (paid → settled; running → still in flight) and the abandon is refused:
   * 409 `payout_outcome_unknown` while it may still pay, 409 `payout_not_open` once it ended.
   * Errors: 404 `payout_not_found`, 503 `not_configured`, 502 SHKeeper errors.
   */
  async abandon(who: Principal, payoutId: string) {
    const payout = await this.d.store.payments.findById(payoutId);
    if (!payout || payout.direction !== 'out' || payout.provider !== 'shkeeper') throw fail('payout_not_found');
    if (!['pending', 'processing'].includes(payout.status)) {
      throw fail('payout_not_open', { message: `the payout is ${payout.status}`, details: { status: payout.status } });
    }
    const shkeeper = this.client();
    const crypto = this.cryptoOf(payout);
    const said = payout.providerTaskId
      ? await shkeeper.getTask(crypto, payout.providerTaskId)
      : ((await shkeeper.payoutStatus(crypto, payout.externalId!)) ?? { status: 'FAILURE', result: 'SHKeeper never received this payout' });
    const updated =
      'txid' in said
        ? await this.d.updates.applyStatus(payout, said, `payout_abandon:${who.userId}`)
        : await this.d.updates.applyTask(payout, said, `payout_abandon:${who.userId}`);
    if (updated.status === 'failed') {
      this.d.logger.warn({ paymentId: payout.id, admin: who.userId }, "payout abandoned on SHKeeper's word that it was not executed");
      return {
        success: true as const,
        data: { payoutId: updated.id, status: updated.status },
        message: 'SHKeeper did not execute this payout; it is abandoned and the escrow is free again',
      };
    }
    if (updated.status === 'completed') {
      throw fail('payout_not_open', {
        message: 'SHKeeper paid this payout; it is now recorded as completed',
        details: { status: updated.status },
      });
    }
    throw fail('payout_outcome_unknown', {
      message: `SHKeeper reports this payout as ${said.status}: it may still be paid, so it cannot be abandoned`,
      details: { shkeeperStatus: said.status },
    });
  }

  /** The SHKeeper client; 503 `not_configured` without SHKEEPER_API_URL. */
  private client(): ShkeeperClient {
    if (!this.d.shkeeper) throw fail('not_configured', { message: 'SHKeeper is not configured (SHKEEPER_API_URL)' });
    return this.d.shkeeper;
  }

  /** The SHKeeper crypto the payout was submitted in, fixed then (older rows: from their network and token). */
  cryptoOf(p: PaymentRecord): string {
    const fixed = p.providerData.crypto;
    if (typeof fixed === 'string') return fixed;
    return cryptoIdFor(p.blockchain?.token ?? 'USDT', p.blockchain?.network ?? 'bsc');
  }

  private async recordFailure(escrowId: string, disbursementId: string, payout: PaymentRecord, err: unknown) {
    const code = err instanceof AppError ? err.code : 'error';
    const step = { source: 'shkeeper_payout', actor: 'system', reason: code };
    if (AMBIGUOUS.has(code)) {
      await this.d.coordinator.moveDisbursement(escrowId, disbursementId, 'in_doubt', step);
      await this.d.coordinator.recordProviderFacts(payout.id, { providerData: { submission: { outcome: 'unknown', code } } });
      this.d.logger.warn({ paymentId: payout.id, escrowPaymentId: escrowId, code }, 'payout submission outcome unknown; left for reconciliation');
      return;
    }
    await this.d.coordinator.moveDisbursement(escrowId, disbursementId, 'failed', step);
    await this.d.coordinator.transition(payout.id, { to: 'failed', source: 'shkeeper_payout', actor: 'system', reason: code });
  }

  private insert(who: Principal, input: PayoutInput, o: { id: string; escrowPaymentId: string; crypto: string; disbursementId: string }) {
    return this.d.coordinator.create(
      payoutRecord({
        id: o.id,
        provider: 'shkeeper',
        purchaseRequestId: input.purchaseRequestId,
        sellerOfferId: input.sellerOfferId,
        buyerId: input.buyerId,
        sellerId: input.sellerId,
        amount: { amount: input.amount, currency: input.token },
        blockchain: { network: input.network, token: input.token },
        externalId: `PAYOUT_${o.id}`,
        payAddress: input.recipientAddress,
        escrowPaymentId: o.escrowPaymentId,
        providerData: { forced: input.force === true, crypto: o.crypto, disbursementId: o.disbursementId },
        metadata: input.metadata ?? {},
      }),
      'shkeeper_payout',
      who.userId,
    );
  }
}
