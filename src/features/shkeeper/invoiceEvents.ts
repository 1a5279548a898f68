import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import { isAppError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { compareDecimals, isDecimalString, normalizeDecimal } from '../../platform/money.js';
import { creditKey } from '../../core/payments/escrowLedger.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import type { CreditInput } from '../../core/payments/paymentCoordinator.js';
import type { PaymentSettlement } from '../../core/payments/paymentSettlement.js';
import { CLOSED, OPEN, SETTLED } from '../../core/payments/transitions.js';
import type { DeliveryOutcome, PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import { cryptoIdFor } from '../../adapters/shkeeper/cryptoIds.js';
import { canonicalTxid, type InvoiceTransaction, type NormalisedInvoiceEvent } from '../../adapters/shkeeper/webhookPayload.js';

const EVM_TX = /^0x[0-9a-fA-F]{64}$/;
const EVM_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
/** How long a callback waits for the chain to name a transfer's sender before crediting without it. */
export const PAYER_READ_TIMEOUT_MS = 8_000;

export interface AppliedEvent {
  outcome: DeliveryOutcome;
  paymentId?: string;
  detail?: string;
}

/**
 * Whose word a transaction is credited on. `shkeeper`: a signed callback — SHKeeper reports the
 * transaction for the invoice's own address and crypto, which is evidence (the chain, when it can
 * be read, adds the sender: the refund recipient). `chain`: the invoice poller — SHKeeper's API
 * reports PAID before its own confirmations, so only a transfer this chain proves is credited.
 */
export type Evidence = 'shkeeper' | 'chain';

/**
 * The one path by which what SHKeeper says about an invoice changes a payment — a webhook or the
 * invoice poller. It credits what ARRIVED, transaction by transaction, through the ledger
 * (`settlement.credit`): each transaction of the invoice's crypto to the invoice's pay address is
 * one credit (keyed by transfer, so re-deliveries and other paths seeing the same transfer credit
 * it once). The coordinator decides what a credit does: it funds the escrow once what arrived
 * reaches the price (less UNDERPAYMENT_TOLERANCE; SHKeeper's own PAID starts at 95 %), leaves the
 * payment processing with the shortfall recorded below that, and records money after completion
 * or for a cancelled/failed payment as excess. A callback for another crypto or address funds
 * nothing and is answered as `refused`.
 */
export class InvoiceEvents {
  constructor(
    private readonly d: {
      store: Store;
      settlement: PaymentSettlement;
      /** Reads the sender (and, when polling, the proof) of EVM transfers, on the payment's network when it has a gateway. */
      proofs?: InflowProofs;
      /** Which network and token each payment is on, and which networks can be read. */
      networks: ChainNetworks;
    },
    private readonly logger: Logger,
  ) {}

  async apply(event: NormalisedInvoiceEvent, source: string, opts: { evidence?: Evidence } = {}): Promise<AppliedEvent> {
    const evidence = opts.evidence ?? 'shkeeper';
    const payment = await this.d.store.payments.findOne({ provider: 'shkeeper', externalId: event.externalId });
    if (!payment) return { outcome: 'unknown_invoice', detail: `no payment has external id ${event.externalId}` };
    const log = this.logger.child({ paymentId: payment.id, externalId: event.externalId, source });

    const bound = this.bind(payment, event);
    if (!bound.ok) {
      log.warn({ reason: bound.detail }, 'invoice event refused: not for this invoice; nothing funded');
      return { outcome: 'refused', paymentId: payment.id, detail: bound.detail };
    }
    const facts = this.facts(payment, event);

    if (event.action.kind === 'unconfirmed') {
      if (!OPEN.includes(payment.status)) {
        return { outcome: 'stale', paymentId: payment.id, detail: `an unconfirmed transaction for a ${payment.status} payment; it is recorded once confirmed` };
      }
      await this.d.settlement.markProcessing(payment.id, { source, actor: 'shkeeper', providerData: facts });
      return { outcome: 'applied', paymentId: payment.id };
    }

    const ours: InvoiceTransaction[] = [];
    const foreign: string[] = [];
    for (const reported of event.transactions) {
      // One transfer, one spelling (the poller's txids come from SHKeeper's API, not the callback's schema).
      const t = { ...reported, txid: canonicalTxid(reported.txid.trim()) };
      if (!sameCrypto(t.crypto, bound.crypto)) foreign.push(`${t.txid} is ${t.crypto}, not ${bound.crypto} (wrong_crypto)`);
      else if (t.addr !== undefined && !sameAddress(t.addr, bound.address)) foreign.push(`${t.txid} paid ${t.addr}, not ${bound.address} (wrong_address)`);
      else if (!isDecimalString(t.amountCrypto) || compareDecimals(t.amountCrypto, '0') <= 0) foreign.push(`${t.txid} moved no amount`);
      else ours.push(t);
    }

    // Every chain read first, every write after: a chain that cannot be read changes nothing.
    const transfers: CreditInput[] = [];
    let seen = false;
    const known = new Set(payment.creditKeys ?? []);
    for (const t of ours) {
      const key = this.keyOf(payment, t.txid, bound.crypto, bound.address);
      if (known.has(key)) continue;
      known.add(key);
      const found = await this.transferOf(payment, t, key, bound.address, evidence, log);
      if (found === 'seen') seen = true;
      else if (found) transfers.push(found);
    }

    const outcomes: string[] = [];
    const elsewhere: string[] = [];
    const excess: string[] = [];
    for (const transfer of transfers) {
      try {
        const r = await this.d.settlement.credit(payment.id, transfer, { source, actor: 'shkeeper', providerData: facts });
        outcomes.push(r.outcome);
        if (r.outcome === 'excess') excess.push(`${transfer.amount} in ${transfer.txHash}`);
      } catch (err) {
        if (!isAppError(err, 'transfer_already_credited')) throw err;
        elsewhere.push(transfer.txHash);
      }
    }
    const notes = [...foreign.map((f) => `not credited: ${f}`), ...elsewhere.map((h) => `not credited: ${h} is already credited to another payment`)];
    const detail = (main?: string) => [main, ...notes].filter(Boolean).join('; ').slice(0, 500) || undefined;

    if (outcomes.some((o) => o === 'funded' || o === 'partial')) {
      return { outcome: 'applied', paymentId: payment.id, detail: detail(excess.length ? `excess: ${excess.join(', ')}` : undefined) };
    }
    if (excess.length > 0) {
      const closed = CLOSED.includes(payment.status);
      log.warn({ status: payment.status, excess }, 'money arrived that the payment cannot take; recorded as excess for an admin');
      return {
        outcome: closed ? 'late_payment' : 'excess',
        paymentId: payment.id,
        detail: detail(`recorded as excess (payment ${payment.status}): ${excess.join(', ')}`),
      };
    }
    // Nothing new was credited.
    if (ours.length === 0 || (elsewhere.length > 0 && elsewhere.length === transfers.length && !seen)) {
      log.warn({ notes }, 'invoice event refused: none of its transactions can be credited to this payment');
      return { outcome: 'refused', paymentId: payment.id, detail: detail() };
    }
    if (OPEN.includes(payment.status) && (evidence === 'chain' || seen)) {
      // SHKeeper reports money the chain does not (yet) prove: settlement is under way, nothing is funded.
      await this.d.settlement.markProcessing(payment.id, { source, actor: 'shkeeper', providerData: facts });
      return { outcome: 'applied', paymentId: payment.id, detail: detail() };
    }
    if (SETTLED.includes(payment.status) && event.action.kind === 'partial') {
      return { outcome: 'stale', paymentId: payment.id, detail: detail(`an earlier state (${event.action.status}) after ${payment.status}`) };
    }
    return { outcome: 'duplicate', paymentId: payment.id, detail: detail('every transaction is already credited') };
  }

  /** The invoice's own crypto and pay address, checked against what the event says. */
  private bind(p: PaymentRecord, e: NormalisedInvoiceEvent): { ok: true; crypto: string; address: string } | { ok: false; detail: string } {
    const crypto = invoiceCrypto(p);
    if (!crypto) return { ok: false, detail: 'wrong_crypto: the crypto of this invoice is not known' };
    if (e.crypto !== null && !sameCrypto(e.crypto, crypto)) {
      return { ok: false, detail: `wrong_crypto: the callback is for ${e.crypto}; this invoice is ${crypto}` };
    }
    let address = p.payAddress;
    if (!address) {
      // An invoice whose address was never recorded (the intent failed after SHKeeper made it):
      // a closed payment can only record what arrived as excess, so SHKeeper's address is taken.
      if (OPEN.includes(p.status) || !e.addr) return { ok: false, detail: 'wrong_address: this payment has no invoice address' };
      address = e.addr;
    }
    if (e.addr !== null && !sameAddress(e.addr, address)) {
      return { ok: false, detail: `wrong_address: the callback is for ${e.addr}; this invoice pays ${address}` };
    }
    return { ok: true, crypto, address };
  }

  /**
   * The one key a transfer has whatever path sees it: the chain's key for an EVM transfer on a
   * network of the registry (the key `InflowProofs` gives it), SHKeeper's otherwise.
   */
  private keyOf(p: PaymentRecord, txid: string, crypto: string, address: string): string {
    const rail = this.d.networks.of(p);
    if (EVM_TX.test(txid) && rail) return creditKey(rail.network.id, txid, address);
    return `${crypto}:${txid}:${address}`.toLowerCase();
  }

  /**
   * The other network (of those this service reads) whose chain knows transaction `txid`, or null.
   * Throws when one of them cannot be read: the delivery is retried rather than credited on a
   * word that might name another network's transfer (one transfer must never fund two escrows).
   */
  private async onOtherNetwork(networkId: string, txid: string): Promise<string | null> {
    for (const { network, gateway } of this.d.networks.readable()) {
      if (network.id === networkId) continue;
      const facts = await withTimeout(gateway.transactionFacts(txid), PAYER_READ_TIMEOUT_MS).catch((err: unknown) => {
        throw new Error(`cannot tell whether ${txid} is a transaction of ${network.id}: ${(err as Error).message}`);
      });
      if (facts) return network.id;
    }
    return null;
  }

  /**
   * The credit a transaction makes, or `seen` (mined on this chain, not yet deep enough) or null
   * (nothing to credit on this evidence). A transfer the chain proves is credited as the chain
   * shows it (amount, sender, block); otherwise, on SHKeeper's word, with SHKeeper's amount and
   * the sender when the chain can tell it.
   */
  private async transferOf(
    p: PaymentRecord,
    t: InvoiceTransaction,
    key: string,
    address: string,
    evidence: Evidence,
    log: Logger,
  ): Promise<CreditInput | 'seen' | null> {
    const rail = this.d.networks.of(p);
    const network = rail?.network.id ?? p.blockchain?.network ?? 'bsc';
    const token = rail?.token.symbol ?? p.blockchain?.token ?? p.amount.currency;
    const evm = EVM_TX.test(t.txid);
    // Read on the payment's own network, when the registry has it and can read it.
    const provable = !!this.d.proofs && evm && !!p.payAddress && !!rail && !!this.d.networks.gatewayOf(rail.network.id);
    if (evidence === 'chain') {
      if (!provable) return null;
      const v = await this.d.proofs!.prove(p, t.txid, 'invoice_address');
      if (v.kind === 'credit') return v.transfer;
      if (v.kind === 'seen') return 'seen';
      log.info(
        { txid: t.txid, verdict: v.kind, reason: v.kind === 'refuted' ? v.reason : undefined },
        'SHKeeper reports a transaction the chain does not prove',
      );
      return null;
    }
    let from: string | null = null;
    let blockNumber: number | null = null;
    if (provable) {
      try {
        const v = await withTimeout(this.d.proofs!.prove(p, t.txid, 'invoice_address'), PAYER_READ_TIMEOUT_MS);
        if (v.kind === 'credit') return v.transfer;
        // The chain positively says this transaction does not pay this invoice's address (another
        // invoice's transfer, another token, reverted): SHKeeper's word cannot outweigh that.
        if (v.kind === 'refuted') {
          log.warn({ txid: t.txid, reason: v.reason }, 'SHKeeper reports a transaction the chain refutes for this invoice; not credited');
          return null;
        }
        if (v.kind === 'seen') ({ from, blockNumber } = v);
        else log.info({ txid: t.txid, verdict: v.kind }, 'the chain does not show the transfer SHKeeper reports; credited on its word, payer unknown');
      } catch (err) {
        // SHKeeper's signed word is evidence; the payer stays unknown and a refund must name one.
        log.warn({ err: (err as Error).message, txid: t.txid }, 'could not read the transfer on chain; credited without its sender');
      }
      // Not proven on this payment's chain: if it is a transaction of another network of the
      // registry (which may have credited it there already), SHKeeper's word for this one is wrong.
      // Outside the catch above: a network that cannot be read fails the delivery, to be retried.
      const elsewhere = blockNumber === null ? await this.onOtherNetwork(rail!.network.id, t.txid) : null;
      if (elsewhere) {
        log.warn({ txid: t.txid, network: elsewhere }, `SHKeeper reports, for this invoice, a transaction of ${elsewhere}; not credited`);
        return null;
      }
    }
    return {
      txHash: evm ? t.txid.toLowerCase() : t.txid,
      from,
      to: address,
      network,
      token,
      amount: normalizeDecimal(t.amountCrypto),
      baseUnits: null,
      blockNumber,
      key,
    };
  }

  /**
   * What SHKeeper said, kept under `providerData.shkeeper` next to the invoice facts of the intent.
   * Retries carry snapshots built at send time: a smaller balance never replaces a larger one.
   */
  private facts(p: PaymentRecord, e: NormalisedInvoiceEvent): Record<string, unknown> | undefined {
    const previous = (p.providerData.shkeeper as { balanceCrypto?: string } | undefined)?.balanceCrypto;
    const incoming = e.snapshot.balanceCrypto as string | undefined;
    const newer = !previous || !incoming || compareDecimals(incoming, previous) >= 0;
    if (!newer) return undefined;
    const { crypto: _crypto, ...rest } = e.snapshot;
    return Object.fromEntries(Object.entries(rest).map(([k, v]) => [`shkeeper.${k}`, v]));
  }
}

/** The crypto the invoice was made in (recorded by the intent), else the one the payment's token maps to. */
function invoiceCrypto(p: PaymentRecord): string | null {
  const recorded = (p.providerData.shkeeper as { crypto?: unknown } | undefined)?.crypto;
  if (typeof recorded === 'string' && recorded) return recorded;
  if (!p.blockchain) return null;
  try {
    return cryptoIdFor(p.blockchain.token, p.blockchain.network);
  } catch {
    return null;
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the chain within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

const sameCrypto = (a: string, b: string) => a.trim().toUpperCase() === b.trim().toUpperCase();

/** EVM addresses compare without case; others (Tron base58…) exactly. */
function sameAddress(a: string, b: string): boolean {
  return EVM_ADDRESS.test(a) && EVM_ADDRESS.test(b) ? a.toLowerCase() === b.toLowerCase() : a === b;
}
