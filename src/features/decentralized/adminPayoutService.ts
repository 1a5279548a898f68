import type { Principal } from '../../platform/auth/tokens.js';
import type { HotWallet, TransferReceipt } from '../../adapters/chain/hotWallet.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, fail } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { toBaseUnits } from '../../platform/money.js';
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
import { RELEASE_EFFECTS, type PaymentEffects } from '../../core/payments/paymentEffects.js';
import type { Disbursement, PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import type { AdminPayoutInput } from './decentralizedSchemas.js';

const RECEIPT_TIMEOUT_MS = 120_000;

/**
 * What an admin payout did: `sent` (mined, the escrow released), `awaiting_receipt` (broadcast,
 * not mined yet: it stays in flight), or `failed` (the transfer reverted: the escrow is free
 * again). `success`, `message` and `data` are the spec's answer (`success` is false only when
 * failed).
 */
export interface AdminPayoutOutcome {
  kind: 'sent' | 'awaiting_receipt' | 'failed';
  success: boolean;
  message: string;
  data: {
    payoutId: string;
    status: PaymentRecord['status'];
    transactionHash: string;
    from: string;
    to: string | null;
    amount: string;
    currency: string;
    receipt: unknown;
  };
}

/**
 * An admin pays a seller straight from the hot wallet (no SHKeeper): a disbursement of the
 * purchase request's funded escrow, to its offer's wallet (another one only with the admin's
 * reason), for at most what the escrow still holds. The disbursement is opened first (it holds the
 * escrow against every other way out), the outbound Payment is written before anything is
 * broadcast (a crash leaves a record, never an unrecorded transfer), the transfer is broadcast
 * once, and its receipt decides: success settles the disbursement (escrow released), a revert or
 * a failed send fails it (escrow free again). Without a receipt yet it stays in flight; the next
 * admin payout of that escrow reads the receipt first.
 */
export class AdminPayoutService {
  constructor(
    private readonly d: {
      proofs?: InflowProofs;
      config: Config;
      store: Store;
      coordinator: PaymentCoordinator;
      effects: PaymentEffects;
      events: PaymentEvents;
      clock: Clock;
      logger: Logger;
      wallet?: HotWallet;
    },
  ) {}

  async pay(who: Principal, input: AdminPayoutInput): Promise<AdminPayoutOutcome> {
    const { store, config, coordinator } = this.d;
    const wallet = this.d.wallet;
    if (!wallet) throw fail('not_configured', { message: 'no hot wallet is configured (ADMIN_WALLET_PRIVATE_KEY, BSC_RPC_URL)' });
    const request = await store.purchaseRequests.findById(input.purchaseRequestId);
    if (!request) throw fail('purchase_request_not_found');

    let escrow = await fundedEscrowOf(store, request.id);
    const earlier = ledgerOf(escrow).inFlight;
    if (earlier?.method === 'hot_wallet' && earlier.state === 'submitted' && earlier.evidence) {
      // A transfer broadcast by an earlier call whose receipt was not known then: its receipt first.
      await this.resolve(wallet, escrow.id, earlier);
      escrow = await fundedEscrowOf(store, request.id);
    }
    if (escrow.amount.currency !== input.currency) {
      throw fail('currency_mismatch', { message: `the escrow holds ${escrow.amount.currency}; it cannot pay ${input.currency}` });
    }
    const offer = escrow.sellerOfferId ? await store.sellerOffers.findById(escrow.sellerOfferId) : null;
    const override = checkPayoutRecipient(offer?.walletAddress ?? null, input.receiverWalletAddress, { adminId: who.userId, reason: input.overrideReason });
    const ledger = ledgerOf(escrow);
    if (ledger.inFlight) throw inFlightError(ledger.inFlight);
    assertPayoutAmount(escrow, input.amount);
    await assertFundingOnChain(this.d.proofs, escrow);
    const amount = toBaseUnits(input.amount, config.bsc.usdtDecimals);
    const balance = await wallet.tokenBalance(config.bsc.usdtAddress);
    if (balance < amount) {
      throw fail('insufficient_balance');
    }

    const step = { source: 'admin_payout', actor: who.userId };
    const { payout, disbursementId } = await openPayout(
      coordinator,
      escrow,
      {
        method: 'hot_wallet',
        recipient: input.receiverWalletAddress,
        amount: input.amount,
        override,
        createdBy: who.userId,
        source: step.source,
        now: this.d.clock.now(),
      },
      (ids) => this.record(who, input, escrow, { id: ids.payoutId, disbursementId: ids.disbursementId }),
    );
    this.d.events.emit([to.admins, ...to.parties(payout)], 'payout-created', { payoutId: payout.id, status: payout.status });

    let sent;
    try {
      sent = await wallet.sendTokenTransfer(config.bsc.usdtAddress, input.receiverWalletAddress, amount);
    } catch (err) {
      await this.failed(escrow.id, disbursementId, payout.id, (err as AppError).code ?? 'send_failed');
      throw err;
    }
    await coordinator.moveDisbursement(escrow.id, disbursementId, 'submitted', { ...step, evidence: sent.txHash });
    await coordinator.transition(payout.id, {
      to: 'processing',
      ...step,
      set: { transactionHash: sent.txHash, providerData: { nonce: sent.nonce } },
    });
    const receipt = await wallet.waitForReceipt(sent.txHash, RECEIPT_TIMEOUT_MS).catch((err: unknown) => {
      this.d.logger.warn({ err, paymentId: payout.id, txHash: sent.txHash }, 'receipt not readable; the payout stays in flight');
      return null;
    });
    if (!receipt) {
      // Broadcast but not yet mined: the disbursement stays in flight with its hash; never re-sent.
      return this.answer(await this.reload(payout.id), sent.txHash, null, 'broadcast; waiting for the receipt');
    }
    const done =
      receipt.status === 'success'
        ? await this.settled(escrow.id, disbursementId, payout.id, sent.txHash, receipt)
        : await this.failed(escrow.id, disbursementId, payout.id, 'reverted', receipt);
    return this.answer(done, sent.txHash, receipt, receipt.status === 'success' ? 'payout sent' : 'the transfer reverted');
  }

  /**
   * Settles or fails every hot-wallet payout broadcast earlier whose receipt was not known then
   * (the monitor calls this). Returns how many were decided.
   */
  async resolveBroadcasts(): Promise<number> {
    const wallet = this.d.wallet;
    if (!wallet) return 0;
    const waiting = await this.d.store.payments.find({ 'escrow.inFlight.method': 'hot_wallet', 'escrow.inFlight.state': 'submitted' }, { limit: 100 });
    let decided = 0;
    for (const escrow of waiting) {
      const d = ledgerOf(escrow).inFlight;
      if (!d?.evidence) continue;
      await this.resolve(wallet, escrow.id, d);
      if (ledgerOf((await this.d.store.payments.findById(escrow.id)) ?? escrow).inFlight?.id !== d.id) decided++;
    }
    return decided;
  }

  /** The receipt of an earlier broadcast decides it now, if there is one yet. */
  private async resolve(wallet: HotWallet, escrowId: string, d: Disbursement): Promise<void> {
    const receipt = await wallet.receipt(d.evidence!);
    if (!receipt || !d.payoutId) return;
    if (receipt.status === 'success') await this.settled(escrowId, d.id, d.payoutId, d.evidence!, receipt);
    else await this.failed(escrowId, d.id, d.payoutId, 'reverted', receipt);
  }

  /** The chain's receipt says it paid: the escrow is released (with its side effects), then the payout completed. */
  private async settled(escrowId: string, disbursementId: string, payoutId: string, txHash: string, receipt: TransferReceipt) {
    await this.d.effects.transitionThenEffects(() =>
      this.d.coordinator.settleDisbursement(escrowId, disbursementId, {
        source: 'admin_payout',
        actor: 'chain',
        evidence: txHash,
        effects: RELEASE_EFFECTS,
        hashField: 'releaseTxHash',
      }),
    );
    return this.finish(payoutId, 'completed', { set: { providerData: { receipt } } });
  }

  /** Nothing left the hot wallet (send refused, or the transfer reverted): the escrow is free again. */
  private async failed(escrowId: string, disbursementId: string, payoutId: string, reason: string, receipt?: TransferReceipt) {
    await this.d.coordinator.moveDisbursement(escrowId, disbursementId, 'failed', { source: 'admin_payout', actor: 'system', reason });
    return this.finish(payoutId, 'failed', { reason, set: receipt ? { providerData: { receipt } } : undefined });
  }

  private async finish(payoutId: string, status: 'completed' | 'failed', o: { reason?: string; set?: { providerData: Record<string, unknown> } }) {
    const { payment, changed } = await this.d.coordinator.transition(payoutId, {
      to: status,
      source: 'admin_payout',
      actor: 'system',
      reason: o.reason,
      set: o.set,
    });
    if (changed) {
      const event = status === 'completed' ? 'payout-completed' : 'payout-updated';
      this.d.events.emit([to.admins, ...to.parties(payment)], event, {
        payoutId: payment.id,
        status: payment.status,
        ...(payment.transactionHash ? { transactionHash: payment.transactionHash } : {}),
      });
    }
    return payment;
  }

  private async reload(id: string) {
    return (await this.d.store.payments.findById(id))!;
  }

  private answer(p: PaymentRecord, txHash: string, receipt: unknown, message: string): AdminPayoutOutcome {
    const kind = p.status === 'failed' ? 'failed' : receipt ? 'sent' : 'awaiting_receipt';
    return {
      kind,
      success: kind !== 'failed',
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

  private record(who: Principal, input: AdminPayoutInput, escrow: PaymentRecord, o: { id: string; disbursementId: string }) {
    return this.d.coordinator.create(
      payoutRecord({
        id: o.id,
        provider: 'admin_wallet',
        purchaseRequestId: input.purchaseRequestId,
        sellerOfferId: escrow.sellerOfferId,
        buyerId: escrow.buyerId,
        sellerId: escrow.sellerId,
        amount: { amount: input.amount, currency: input.currency },
        blockchain: { network: input.network, token: input.currency },
        externalId: `ADMINPAY_${o.id}`,
        payAddress: input.receiverWalletAddress,
        escrowPaymentId: escrow.id,
        providerData: { forced: input.force === true, disbursementId: o.disbursementId },
        metadata: {},
      }),
      'admin_payout',
      who.userId,
    );
  }
}
