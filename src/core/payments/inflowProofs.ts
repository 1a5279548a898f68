import type { ChainNetworks, PaidIn, Rail } from '../chain/chainNetworks.js';
import type { ChainGateway, TransferVerdict } from '../chain/chainTypes.js';
import { sameAddress } from '../chain/erc20.js';
import { AppError, fail } from '../../platform/errors.js';
import { fromBaseUnits } from '../../platform/money.js';
import type { Config } from '../../platform/config.js';
import type { Claim, PaymentRecord } from '../store/records.js';
import { creditKey, ledgerOf } from './escrowLedger.js';
import type { CreditInput } from './paymentCoordinator.js';

/**
 * Who may have paid. `invoice_address`: the payment has an address of its own (a SHKeeper
 * invoice), so any sender's transfer to it is this payment's. `proven_payer`: the payment is paid
 * to the shared escrow receiver, so only a transfer from a wallet the payer proved it controls,
 * mined after that proof, is its own. `admin`: an admin names the transaction and attests the
 * sender (recorded in the history).
 */
export type Binding = 'invoice_address' | 'proven_payer' | 'admin';

export type RefutedReason =
  'reverted' | 'wrong_token' | 'wrong_address' | 'no_transfer' | 'wrong_sender' | 'wallet_not_proven' | 'mined_before_proof' | 'wrong_network' | 'zero_amount';

export type ProofVerdict =
  /** Deep enough and bound to the payment: credit it. */
  | { kind: 'credit'; transfer: CreditInput; confirmations: number }
  /** Mined and bound, not yet deep enough. */
  | { kind: 'seen'; confirmations: number; required: number; from: string; blockNumber: number }
  /** Known to the node, not mined: evidence of nothing yet. */
  | { kind: 'unmined'; from: string | null; nonce: number | null }
  | { kind: 'not_found' }
  /** The chain says this transaction does not pay this payment. */
  | { kind: 'refuted'; reason: RefutedReason; message: string };

/**
 * Turns "transaction h pays payment p" into the chain's answer, the one way every inflow path
 * (Web3 save/verify/cron, legacy verify/callback, confirm-transaction, the wallet monitor, the
 * invoice poller, fetch-tx, an admin's completion) proves a transfer: the ERC-20 `Transfer` logs
 * of the payment's own token contract, read on the payment's own network (`ChainNetworks.of`), to
 * the payment's own receiver, from a sender the binding allows, deep enough for that network.
 * Amounts come back in the payment's currency and in base units. A payment whose network or token
 * is not enabled here is refused (`wrong_network`), never read on another chain.
 */
export class InflowProofs {
  constructor(private readonly d: { config: Config; networks: ChainNetworks }) {}

  /** The default network's id: payments without `blockchain`, and Web3 payments, are on it. */
  get defaultNetworkId(): string | undefined {
    return this.d.networks.defaultNetwork?.id;
  }

  /** Where this payment's money goes: its invoice address, else its network's escrow receiver. */
  receiverOf(p: PaymentRecord): string {
    if (p.payAddress) return p.payAddress;
    const receiver = this.d.networks.of(p)?.receiver ?? this.d.config.escrow.receiverAddress;
    if (!receiver) throw fail('not_configured', { message: 'ESCROW_RECEIVER_ADDRESS is not configured' });
    return receiver;
  }

  /** The payment's network and token, or the refusal every path gives for one not enabled here. */
  railOf(p: PaidIn): Rail | Extract<ProofVerdict, { kind: 'refuted' }> {
    const rail = this.d.networks.of(p);
    if (rail) return rail;
    const network = p.blockchain?.network ?? this.d.networks.defaultNetwork?.id ?? '(none)';
    const token = p.blockchain?.token ?? p.amount.currency;
    return refuted(
      'wrong_network',
      `this payment is in ${token} on ${network}, which is not an enabled network and token here (or not its currency ${p.amount.currency})`,
    );
  }

  bindingOf(p: PaymentRecord): Binding {
    return p.payAddress ? 'invoice_address' : 'proven_payer';
  }

  async prove(p: PaymentRecord, txHash: string, binding: Binding = this.bindingOf(p)): Promise<ProofVerdict> {
    const rail = this.railOf(p);
    if ('kind' in rail) return rail;
    const to = this.receiverOf(p);
    const verdict = await this.chainOf(rail).verifyTransfer(txHash, expectation(rail, to));
    return this.judge(p, rail, txHash.toLowerCase(), to, verdict, binding);
  }

  /**
   * `prove` for many (payment, hash) pairs at once, as a cron does: the receipts are read in
   * JSON-RPC batches (ChainGateway.verifyTransfers), each judged exactly as `prove` would.
   * Verdicts come back in input order; one RPC failure fails the whole call.
   */
  async proveMany(items: { payment: PaymentRecord; txHash: string }[]): Promise<ProofVerdict[]> {
    // One batch per network: each payment's receipt is read on its own network's chain.
    const reads = new Map<string, { index: number; rail: Rail; txHash: string; to: string }[]>();
    const verdicts: (ProofVerdict | undefined)[] = items.map(({ payment: p, txHash }, index) => {
      const rail = this.railOf(p);
      if ('kind' in rail) return rail;
      const batch = reads.get(rail.network.id) ?? [];
      batch.push({ index, rail, txHash, to: this.receiverOf(p) });
      reads.set(rail.network.id, batch);
      return undefined;
    });
    for (const batch of reads.values()) {
      const chainVerdicts = await this.chainOf(batch[0]!.rail).verifyTransfers(batch.map((r) => ({ txHash: r.txHash, expect: expectation(r.rail, r.to) })));
      batch.forEach((r, i) => {
        const p = items[r.index]!.payment;
        verdicts[r.index] = this.judge(p, r.rail, r.txHash.toLowerCase(), r.to, chainVerdicts[i]!, this.bindingOf(p));
      });
    }
    return verdicts as ProofVerdict[];
  }

  /** Who sent a transaction on the network `p` is paid on, as the node knows it (null when it does not, or the network is not enabled). */
  async senderOf(p: PaidIn, txHash: string): Promise<string | null> {
    const rail = this.railOf(p);
    if ('kind' in rail) return null;
    return (await this.chainOf(rail).transactionFacts(txHash))?.from ?? null;
  }

  /**
   * A claim whose transaction left the mempool unmined may have been sped up or replaced: the
   * same sender and nonce, another hash. Returns that transaction's hash when it is a transfer of
   * the token to this payment's receiver mined after the payer's proof, else null.
   */
  async findReplacement(p: PaymentRecord, claim: Claim): Promise<string | null> {
    if (!claim.from || claim.nonce === null) return null;
    const rail = this.railOf(p);
    if ('kind' in rail) return null;
    const chain = this.chainOf(rail);
    if ((await chain.minedNonce(claim.from)) <= claim.nonce) return null;
    const proof = ledgerOf(p).payers.find((w) => sameAddress(w.wallet, claim.from!));
    const latest = await chain.blockNumber();
    const fromBlock = proof ? proof.provenAtBlock + 1 : Math.max(0, latest - this.d.config.legacy.fetchBlockWindow);
    const transfers = await chain.findTransfers({ token: rail.token.contract, to: this.receiverOf(p), from: claim.from, fromBlock, toBlock: latest });
    for (const t of transfers) {
      const facts = await chain.transactionFacts(t.txHash);
      if (facts && facts.nonce === claim.nonce && sameAddress(facts.from, claim.from)) return t.txHash.toLowerCase();
    }
    return null;
  }

  private judge(p: PaymentRecord, rail: Rail, txHash: string, to: string, v: TransferVerdict, binding: Binding): ProofVerdict {
    if (v.status === 'not_found') return { kind: 'not_found' };
    if (v.status === 'mismatch') {
      const reason: RefutedReason =
        v.reason === 'wrong_receiver' ? 'wrong_address' : v.reason === 'reverted' || v.reason === 'wrong_token' ? v.reason : 'no_transfer';
      return refuted(reason, v.message);
    }
    if (v.status === 'pending' && v.confirmations === 0) return { kind: 'unmined', from: v.from ?? null, nonce: v.nonce ?? null };
    const blockNumber = v.blockNumber!;
    const senders = v.senders ?? [];
    let from = senders[0]?.from ?? v.from!;
    let amount = v.amount ?? 0n;
    if (binding === 'proven_payer') {
      const payers = ledgerOf(p).payers;
      if (payers.length === 0) return refuted('wallet_not_proven', 'no wallet has been proven for this payment; sign the payer-proof message first');
      const matches = senders.flatMap((s) => payers.filter((w) => sameAddress(w.wallet, s.from)).map((w) => ({ s, w })));
      if (matches.length === 0) return refuted('wrong_sender', 'the transfer was not sent by a wallet proven for this payment');
      const after = matches.find(({ w }) => blockNumber > w.provenAtBlock);
      if (!after)
        return refuted(
          'mined_before_proof',
          `the transfer was mined in block ${blockNumber}, not after the wallet was proven (block ${matches[0]!.w.provenAtBlock})`,
        );
      from = after.s.from;
      amount = after.s.amount;
    }
    if (amount <= 0n) return refuted('zero_amount', 'the transfer moved no tokens');
    if (v.status === 'pending') return { kind: 'seen', confirmations: v.confirmations, required: v.required, from, blockNumber };
    return {
      kind: 'credit',
      confirmations: v.confirmations,
      transfer: {
        txHash,
        from,
        to,
        network: rail.network.id,
        token: rail.token.symbol,
        amount: fromBaseUnits(amount, rail.token.decimals),
        baseUnits: amount.toString(),
        blockNumber,
        // Per network: the same hash on two chains is two transfers. Not per token: a transaction
        // moving two tokens to one receiver credits one payment, and the other is refused as
        // already credited (never two credits of one key; see README, networks).
        key: creditKey(rail.network.id, txHash, to),
      },
    };
  }

  private chainOf(rail: Rail): ChainGateway {
    return this.d.networks.gateway(rail.network.id);
  }
}

/** What a transfer paying `to` on `rail` must be: that network's token contract, its confirmations. */
function expectation(rail: Rail, to: string) {
  return { token: rail.token.contract, to, minAmount: 0n, confirmations: rail.network.confirmations };
}

function refuted(reason: RefutedReason, message: string): Extract<ProofVerdict, { kind: 'refuted' }> {
  return { kind: 'refuted', reason, message };
}

/** The 409 every path answers for a refuted transfer: `transfer_mismatch` with `details.reason`. */
export function transferMismatch(v: Extract<ProofVerdict, { kind: 'refuted' }>): AppError {
  if (v.reason === 'wallet_not_proven') {
    return fail('wallet_not_proven', { message: v.message, details: { reason: v.reason } });
  }
  return fail('transfer_mismatch', { message: `the transaction does not pay this payment: ${v.message}`, details: { reason: v.reason } });
}
