import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import type { Principal } from '../auth/tokens.js';
import type { Clock } from '../common/clock.js';
import { AppError } from '../common/errors.js';
import { newObjectId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import { compareDecimals } from '../common/money.js';
import type { PaymentEvents } from '../events/paymentEvents.js';
import { assertSelfOrAdmin, isPartyTo, partyFilter } from '../payments/paymentAccess.js';
import { announcePaymentCreated, announcePaymentUpdate } from '../payments/paymentAnnouncements.js';
import type { PaymentCoordinator } from '../payments/paymentCoordinator.js';
import type { PaymentRecord, SellerOfferRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { SaveInput, UpdateInput } from './decentralizedSchemas.js';
import type { Web3Verifier } from './web3Verifier.js';

/** Chunks verified at once, each one JSON-RPC batch of receipts: bounded load on the RPC node. */
export const VERIFY_CONCURRENCY = 4;
export const VERIFY_CHUNK = 100;

/**
 * Web3 (DePay) payments: the buyer pays the escrow receiver from their own wallet, then the front
 * end records the payment — often before login, so most of these routes take no token. What such
 * a caller sends (a tx hash, a wallet) is stored as a claim; only the chain moves the payment.
 */
export class Web3PaymentService {
  constructor(
    private readonly d: {
      store: Store;
      coordinator: PaymentCoordinator;
      verifier: Web3Verifier;
      events: PaymentEvents;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  async save(input: SaveInput) {
    const { store } = this.d;
    const request = await store.purchaseRequests.findById(input.purchaseRequestId);
    if (!request) throw new AppError('not_found', 'purchase request not found', { code: 'purchase_request_not_found' });
    if (request.buyerId !== input.buyerId) {
      throw new AppError('conflict', 'buyerId is not the buyer of this purchase request', { code: 'records_do_not_match' });
    }
    // A repeated save of a hash answers its payment even once that payment has settled (its offer
    // is then no longer pending, so the offer lookup below would refuse the retry).
    const sameHash = input.transactionHash ? await store.payments.findOne({ transactionHash: input.transactionHash }) : null;
    if (sameHash) return this.sameSave(sameHash, request.id);
    const offer = await this.offerFor(request.id, input.sellerId, input.amount);
    const existing = await store.payments.findOne({
      provider: 'decentralized', purchaseRequestId: request.id, sellerOfferId: offer.id, status: 'pending', transactionHash: null,
    });
    if (existing && !input.transactionHash) return this.sameSave(existing, request.id);
    // The hash arrives after a save without one: it is the claim for that same payment.
    if (existing && input.transactionHash) return this.claimFor(existing, input.transactionHash);

    let payment: PaymentRecord;
    try {
      payment = await this.insert(input, offer);
    } catch (err) {
      const e = err as AppError;
      if (e.code !== 'duplicate_key') throw err;
      const keys = (e.details as { keys?: string[] }).keys ?? [];
      if (keys.includes('transactionHash')) return this.sameSave((await store.payments.findOne({ transactionHash: input.transactionHash }))!, request.id);
      const live = await store.payments.findOne({ liveOfferKey: offer.id });
      throw new AppError('conflict', 'this offer already has a live payment', { code: 'payment_exists', details: { paymentId: live?.id } });
    }
    announcePaymentCreated(this.d.events, payment);
    if (!payment.transactionHash) return { payment, verification: null };
    try {
      const v = await this.d.verifier.verify(payment.id, 'decentralized_save');
      return { payment: v.payment, verification: { outcome: v.outcome, confirmations: v.confirmations, reason: v.reason } };
    } catch (err) {
      // Saved either way: the claim stays, and a later verify will look again.
      this.d.logger.warn({ err, paymentId: payment.id }, 'verification right after save failed');
      return { payment, verification: { outcome: 'error', code: (err as AppError).code ?? 'error' } };
    }
  }

  async status(paymentId: string) {
    const p = await this.d.store.payments.findById(paymentId);
    if (!p || p.provider !== 'decentralized') throw new AppError('not_found', 'payment not found', { code: 'payment_not_found' });
    return p;
  }

  /**
   * A status is applied only when the chain agrees: the chain is asked afresh and its answer is
   * applied; if that is not what the caller said, 409 with the chain's view. Only a cancellation
   * comes from a person — a party or an admin, signed in.
   */
  async update(who: Principal | undefined, input: UpdateInput) {
    if (input.status === 'cancelled') return this.cancel(who, input.paymentId);
    const v = await this.d.verifier.verify(input.paymentId, 'decentralized_update');
    const agrees =
      (input.status === 'completed' && v.payment.status === 'completed') ||
      (input.status === 'processing' && v.outcome === 'pending') ||
      (input.status === 'failed' && v.outcome === 'mismatch') ||
      (input.status === 'pending' && v.payment.status === 'pending');
    if (!agrees) {
      throw new AppError('conflict', `the chain does not support status ${input.status}`, {
        code: 'chain_disagrees',
        details: { chain: v.outcome, status: v.payment.status, confirmations: v.confirmations ?? null, required: v.required ?? null },
      });
    }
    return v.payment;
  }

  async history(who: Principal, userId: string) {
    assertSelfOrAdmin(who, userId);
    return this.d.store.payments.find({ provider: 'decentralized', ...partyFilter(userId) }, { sort: { createdAt: -1, id: -1 }, limit: 200 });
  }

  /** Re-verifies every open Web3 payment with a claimed hash, a bounded number at a time. */
  async verifyAllPending() {
    const open = await this.d.store.payments.find(
      { provider: 'decentralized', status: { $in: ['pending', 'processing'] }, transactionHash: { $ne: null } },
      { sort: { createdAt: 1 } },
    );
    const limit = pLimit(VERIFY_CONCURRENCY);
    const counts = { checked: 0, confirmed: 0, stillPending: 0, failed: 0, errors: 0 };
    const chunks = Array.from({ length: Math.ceil(open.length / VERIFY_CHUNK) }, (_, i) => open.slice(i * VERIFY_CHUNK, (i + 1) * VERIFY_CHUNK));
    await Promise.all(
      chunks.map((chunk) =>
        limit(async () => {
          counts.checked += chunk.length;
          let results;
          try {
            results = await this.d.verifier.verifyMany(chunk, 'verify_all_pending');
          } catch (err) {
            // A failed RPC read costs this chunk, never the whole run.
            counts.errors += chunk.length;
            this.d.logger.warn({ err, payments: chunk.length }, 'verification of a chunk failed');
            return;
          }
          for (const r of results) {
            if ('error' in r) counts.errors++;
            else if (r.outcome === 'confirmed') counts.confirmed++;
            else if (r.outcome === 'mismatch' || r.outcome === 'closed') counts.failed++;
            else counts.stillPending++;
          }
        }),
      ),
    );
    return { ...counts, concurrency: VERIFY_CONCURRENCY, chunkSize: VERIFY_CHUNK };
  }

  private async cancel(who: Principal | undefined, paymentId: string) {
    if (!who) throw new AppError('unauthorized', 'cancelling needs a bearer token', { code: 'missing_token' });
    const p = await this.status(paymentId);
    if (!(who.isAdmin || isPartyTo(p, who))) throw new AppError('not_found', 'payment not found', { code: 'payment_not_found' });
    if (!who.isAdmin && p.status !== 'pending') {
      throw new AppError('invalid_state', 'only a pending payment can be cancelled', { code: 'payment_not_pending' });
    }
    const { payment, changed } = await this.d.coordinator.transition(p.id, {
      to: 'cancelled', source: 'decentralized_update', actor: who.userId, ...(who.isAdmin ? {} : { where: { status: 'pending' } }),
    });
    if (changed) announcePaymentUpdate(this.d.events, payment);
    return payment;
  }

  private async claimFor(existing: PaymentRecord, hash: string) {
    try {
      await this.d.coordinator.patch(existing.id, { transactionHash: hash }, { transactionHash: null, status: 'pending' });
    } catch (err) {
      if ((err as AppError).code === 'duplicate_key') {
        throw new AppError('conflict', 'this transaction hash is already used by another payment', { code: 'transaction_hash_in_use' });
      }
      if ((err as AppError).code !== 'precondition_failed') throw err;
    }
    const v = await this.d.verifier.verify(existing.id, 'decentralized_save').catch(() => null);
    const payment = v?.payment ?? (await this.d.store.payments.findById(existing.id))!;
    return { payment, verification: v ? { outcome: v.outcome, confirmations: v.confirmations, reason: v.reason } : null };
  }

  private sameSave(existing: PaymentRecord, requestId: string) {
    if (existing.provider === 'decentralized' && existing.purchaseRequestId === requestId) return { payment: existing, verification: null };
    throw new AppError('conflict', 'this transaction hash is already used by another payment', { code: 'transaction_hash_in_use' });
  }

  /** The offer being paid: the named seller's, else the one pending offer at exactly this amount. */
  private async offerFor(requestId: string, sellerId: string | undefined, amount: string): Promise<SellerOfferRecord> {
    const offers = await this.d.store.sellerOffers.find({ purchaseRequestId: requestId, status: 'pending', ...(sellerId ? { sellerId } : {}) });
    const matching = offers.filter((o) => compareDecimals(o.amount, amount) === 0);
    if (matching.length === 1) return matching[0]!;
    throw new AppError('conflict', sellerId ? `no pending offer from ${sellerId} for ${amount}` : `no single pending offer for ${amount}; name the seller`, {
      code: matching.length === 0 ? 'records_do_not_match' : 'offer_ambiguous',
    });
  }

  private insert(input: SaveInput, offer: SellerOfferRecord) {
    const id = newObjectId(this.d.clock.now());
    return this.d.coordinator.create(
      {
        id, provider: 'decentralized', direction: 'in', status: 'pending', escrowState: 'unfunded',
        purchaseRequestId: input.purchaseRequestId, sellerOfferId: offer.id, buyerId: input.buyerId, sellerId: offer.sellerId,
        amount: { amount: input.amount, currency: input.currency },
        blockchain: { network: input.network, token: input.token },
        // The reference the old SDK's callback must present: random, so knowing a payment id
        // (ids are announced to every client) is not enough to make claims about it.
        transactionHash: input.transactionHash ?? null, externalId: `DEPAY_${randomBytes(16).toString('hex')}`,
        paymentUrl: null, payAddress: null, expiresAt: null, providerTaskId: null, releaseTxHash: null, refundTxHash: null,
        // An anonymous, unverified claim must not lock the buyer out of their own offer: the
        // offer is held by payments the chain has seen, not by a save anyone can make.
        liveOfferKey: null,
        providerData: input.walletAddress ? { claimedWallet: input.walletAddress } : {},
        metadata: input.metadata ?? {},
      },
      'decentralized_save',
      'anonymous',
    );
  }
}
