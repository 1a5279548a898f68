import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import type { Principal } from '../../platform/auth/tokens.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, fail, isAppError } from '../../platform/errors.js';
import { newObjectId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import { compareDecimals } from '../../platform/money.js';
import type { PaymentEvents } from '../../core/events/paymentEvents.js';
import { assertSelfOrAdmin, isPartyTo, partyFilter } from '../../core/payments/paymentAccess.js';
import { announcePaymentCreated, announcePaymentUpdate } from '../../core/payments/paymentAnnouncements.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { PaymentRecord, SellerOfferRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import type { ChallengeInput, SaveInput, UpdateInput } from './decentralizedSchemas.js';
import type { PayerProofInput } from '../shared/payerProofSchema.js';
import type { PayerProofs } from './payerProof.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import { ledgerOf } from '../../core/payments/escrowLedger.js';
import { sameAddress } from '../../core/chain/erc20.js';
import { OPEN } from '../../core/payments/transitions.js';
import type { Web3Verifier } from '../../core/payments/web3Verifier.js';
import { refutedClaim } from '../../core/payments/refutedClaim.js';

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
      payerProofs: PayerProofs;
      proofs: InflowProofs;
      events: PaymentEvents;
      clock: Clock;
      logger: Logger;
    },
  ) {}

  /**
   * Records a Web3 payment for an offer (creating it, or finding the open one), with the payer's
   * wallet proof when sent, and verifies the transaction hash when one is given. A hash is a
   * claim: it reserves nothing until the chain proves a transfer from a proven wallet, mined after
   * the proof. A hash the chain refutes answers 409 (`transfer_mismatch` / `wallet_not_proven`)
   * and leaves the payment as it was.
   */
  async save(input: SaveInput) {
    const { store } = this.d;
    const request = await store.purchaseRequests.findById(input.purchaseRequestId);
    if (!request) throw fail('purchase_request_not_found');
    if (request.buyerId !== input.buyerId) {
      throw fail('records_do_not_match', { message: 'buyerId is not the buyer of this purchase request' });
    }
    // A hash that already funds a payment answers that payment when it is this request's (a retried save).
    const funded = input.transactionHash ? await store.payments.findOne({ transactionHash: input.transactionHash }) : null;
    if (funded) return this.sameSave(funded, request.id);
    let payment = await this.paymentToSave(request.id, input);
    if (input.payerProof) payment = await this.addPayer(payment, input.payerProof);
    if (!input.transactionHash) return { payment, verification: null };
    // Kept as the claim first (when there is none), so an RPC failure loses nothing; a refuted one is dropped again.
    payment = await this.keepClaim(payment.id, input.transactionHash, 'decentralized_save');
    try {
      const v = await this.d.verifier.verify(payment.id, 'decentralized_save', input.transactionHash);
      if (v.outcome === 'mismatch') throw refutedClaim(v.reason);
      return { payment: v.payment, verification: { outcome: v.outcome, confirmations: v.confirmations, reason: v.reason } };
    } catch (err) {
      if (isAppError(err, 'transfer_mismatch', 'wallet_not_proven', 'transaction_hash_in_use')) throw err;
      // Saved either way: the claim stays, and a later verify will look again.
      this.d.logger.warn({ err, paymentId: payment.id }, 'verification right after save failed');
      return { payment: (await store.payments.findById(payment.id)) ?? payment, verification: { outcome: 'error', code: (err as AppError).code ?? 'error' } };
    }
  }

  /**
   * Records `hash` as the payment's claim when it has none (a claim reserves nothing, and an
   * existing one — possibly the payer's — is never displaced by a caller's word). Returns the payment.
   */
  async keepClaim(paymentId: string, hash: string, source: string): Promise<PaymentRecord> {
    const p = await this.status(paymentId);
    if (p.claim || !OPEN.includes(p.status) || p.transactionHash) return p;
    return this.d.coordinator
      .recordClaim(p.id, { txHash: hash, from: null, nonce: null, source, actor: 'anonymous' })
      .catch((err: unknown) => (isAppError(err, 'payment_not_open', 'transaction_hash_already_set') ? p : Promise.reject(err)));
  }

  /**
   * The EIP-712 message a wallet signs to prove it pays this offer (see PayerProofs), on
   * `input.network` (default: the registry's default network), in the offer's currency. 400
   * `unsupported_token` when that (network, currency) is not enabled.
   */
  async challenge(input: ChallengeInput) {
    const offer = await this.d.store.sellerOffers.findById(input.sellerOfferId);
    if (!offer || offer.purchaseRequestId !== input.purchaseRequestId) {
      throw fail('seller_offer_not_found', { message: 'seller offer not found for this purchase request' });
    }
    const network = input.network ?? this.d.proofs.defaultNetworkId ?? 'bsc';
    const rail = this.d.proofs.railOf({ blockchain: { network, token: offer.currency }, amount: { currency: offer.currency } });
    if ('kind' in rail) throw fail('unsupported_token', { message: rail.message, details: { network, token: offer.currency } });
    return this.d.payerProofs.issue({
      purchaseRequestId: offer.purchaseRequestId,
      sellerOfferId: offer.id,
      wallet: input.walletAddress,
      amount: offer.amount,
      token: offer.currency,
      network: rail.network.id,
    });
  }

  /** Records a signed payer proof on an open Web3 payment; the signature is the credential. */
  async prove(paymentId: string, proof: PayerProofInput) {
    return this.addPayer(await this.status(paymentId), proof);
  }

  private async addPayer(p: PaymentRecord, proof: PayerProofInput): Promise<PaymentRecord> {
    const payer = this.d.payerProofs.verify(proof.message, proof.signature, p);
    return this.d.coordinator.addPayer(p.id, payer);
  }

  /**
   * Which payment a save is for. Each proven wallet has a payment of its own for an offer: with a
   * proof, the open payment proven by that wallet, else an open one nobody proved yet, else a new
   * one. Without a proof but with a hash: the open payment proven by the transaction's sender.
   * Otherwise the oldest open one nobody proved (a save repeated gets the same payment).
   */
  private async paymentToSave(requestId: string, input: SaveInput): Promise<PaymentRecord> {
    const offer = await this.offerFor(requestId, input.sellerId, input.amount);
    // Paid in the offer's currency, as that token on the network the save names (both enabled here).
    if (input.currency !== offer.currency) throw fail('records_do_not_match', { message: `the offer is priced in ${offer.currency}, not ${input.currency}` });
    const paidIn = { blockchain: { network: input.network, token: input.token ?? offer.currency }, amount: { currency: offer.currency } };
    const rail = this.d.proofs.railOf(paidIn);
    if ('kind' in rail) throw fail('unsupported_token', { message: rail.message, details: { network: input.network, token: paidIn.blockchain.token } });
    const onRail = (p: PaymentRecord) => {
      const r = this.d.proofs.railOf(p);
      return !('kind' in r) && r.network.id === rail.network.id && r.token.symbol === rail.token.symbol;
    };
    const open = (
      await this.d.store.payments.find(
        { provider: 'decentralized', purchaseRequestId: requestId, sellerOfferId: offer.id, status: { $in: [...OPEN] } },
        { sort: { createdAt: 1 }, limit: 50 },
      )
    ).filter(onRail);
    const provenBy = (wallet: string) => open.find((p) => ledgerOf(p).payers.some((w) => sameAddress(w.wallet, wallet)));
    const unproven = open.find((p) => ledgerOf(p).payers.length === 0 && ledgerOf(p).credits.length === 0);
    let wallet = input.payerProof?.message.wallet;
    // Read on the network and token the save names, as the payment it may create would be.
    if (!wallet && input.transactionHash) wallet = (await this.d.proofs.senderOf(paidIn, input.transactionHash).catch(() => null)) ?? undefined;
    const found = (wallet ? provenBy(wallet) : undefined) ?? unproven ?? (input.payerProof ? undefined : open[0]);
    if (found) return found;
    // No new payment on a request the marketplace cancelled (read again here: the cancel may have just landed).
    if ((await this.d.store.purchaseRequests.findById(requestId))?.status === 'cancelled') throw fail('purchase_request_not_open');
    const payment = await this.insert(input, offer, { network: rail.network.id, token: rail.token.symbol });
    announcePaymentCreated(this.d.events, payment);
    return payment;
  }

  async status(paymentId: string) {
    const p = await this.d.store.payments.findById(paymentId);
    if (!p || p.provider !== 'decentralized') throw fail('payment_not_found');
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
      // A refuted claim is dropped, not a failed payment: `failed` agrees only when the payment is.
      (input.status === 'failed' && v.payment.status === 'failed') ||
      (input.status === 'pending' && v.payment.status === 'pending');
    if (!agrees) {
      throw fail('chain_disagrees', {
        message: `the chain does not support status ${input.status}`,
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
      { provider: 'decentralized', status: { $in: [...OPEN] }, 'claim.txHash': { $type: 'string' } },
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
    if (!who) throw fail('missing_token', { message: 'cancelling needs a bearer token' });
    const p = await this.status(paymentId);
    if (!(who.isAdmin || isPartyTo(p, who))) throw fail('payment_not_found');
    if (!who.isAdmin && who.userId !== p.buyerId) {
      throw fail('not_buyer');
    }
    if (!who.isAdmin && p.status !== 'pending') {
      throw fail('payment_not_pending');
    }
    const { payment, changed } = await this.d.coordinator.transition(p.id, {
      to: 'cancelled',
      source: 'decentralized_update',
      actor: who.userId,
      ...(who.isAdmin ? {} : { where: { status: 'pending' } }),
    });
    if (changed) announcePaymentUpdate(this.d.events, payment);
    return payment;
  }

  private sameSave(existing: PaymentRecord, requestId: string): { payment: PaymentRecord; verification: null } {
    if (existing.provider === 'decentralized' && existing.purchaseRequestId === requestId) return { payment: existing, verification: null };
    throw fail('transaction_hash_in_use', { message: 'this transaction hash is already used by another payment' });
  }

  /** The offer being paid: the named seller's, else the one pending offer at exactly this amount. */
  private async offerFor(requestId: string, sellerId: string | undefined, amount: string): Promise<SellerOfferRecord> {
    const offers = await this.d.store.sellerOffers.find({ purchaseRequestId: requestId, status: 'pending', ...(sellerId ? { sellerId } : {}) });
    const matching = offers.filter((o) => compareDecimals(o.amount, amount) === 0);
    if (matching.length === 1) return matching[0]!;
    throw fail(matching.length === 0 ? 'records_do_not_match' : 'offer_ambiguous', {
      message: sellerId ? `no pending offer from ${sellerId} for ${amount}` : `no single pending offer for ${amount}; name the seller`,
    });
  }

  private insert(input: SaveInput, offer: SellerOfferRecord, blockchain: { network: string; token: string }) {
    const id = newObjectId(this.d.clock.now());
    return this.d.coordinator.create(
      {
        id,
        provider: 'decentralized',
        direction: 'in',
        status: 'pending',
        escrowState: 'unfunded',
        purchaseRequestId: input.purchaseRequestId,
        sellerOfferId: offer.id,
        buyerId: input.buyerId,
        sellerId: offer.sellerId,
        amount: { amount: input.amount, currency: offer.currency },
        blockchain,
        // The reference the old SDK's callback must present: random, so knowing a payment id
        // (ids are announced to every client) is not enough to make claims about it.
        transactionHash: null,
        externalId: `DEPAY_${randomBytes(16).toString('hex')}`,
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
