import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import type { ChainGateway } from '../../core/chain/chainTypes.js';
import { fail, isAppError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Config } from '../../platform/config.js';
import { ledgerOf } from '../../core/payments/escrowLedger.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import { SETTLED } from '../../core/payments/transitions.js';
import type { ShkeeperClient } from '../../adapters/shkeeper/shkeeperClient.js';
import type { PaymentRecord } from '../../core/store/records.js';

const EVM_TX = /^0x[0-9a-fA-F]{64}$/;

export interface Backfilled {
  transactionHash: string;
  network: string;
  source: 'recorded' | 'shkeeper' | 'chain';
}

/**
 * Finds the missing transaction hash of a completed payment, bound to the payment like every
 * other inflow (InflowProofs): a SHKeeper payment's txids from its invoice, proven on chain to
 * its own pay address; a Web3 payment's transfers to the escrow receiver from a wallet its payer
 * proved, mined after the proof. A transfer from anyone else — or one already credited to another
 * payment — is never taken. What is found becomes the payment's funding evidence.
 */
export class TransactionBackfill {
  constructor(
    private readonly d: {
      config: Config;
      coordinator: PaymentCoordinator;
      proofs: InflowProofs;
      logger: Logger;
      networks: ChainNetworks;
      shkeeper?: ShkeeperClient;
    },
  ) {}

  /**
   * Returns the payment's hash (`recorded`), or finds, proves and records it. Errors: 409
   * `payment_not_completed`, 404 `transaction_not_found`, 409 `wallet_not_proven` (a shared-receiver
   * payment without a proven wallet), 409 `transaction_hash_in_use`, 503 `not_configured`.
   */
  async fetch(p: PaymentRecord): Promise<Backfilled> {
    const network = p.blockchain?.network ?? 'bsc';
    if (p.transactionHash) return { transactionHash: p.transactionHash, network, source: 'recorded' };
    if (!SETTLED.includes(p.status)) {
      throw fail('payment_not_completed', { message: 'only a completed payment has a transaction to look for' });
    }
    const funding = ledgerOf(p).credits.find((c) => c.kind === 'funding');
    if (funding) return { transactionHash: funding.txHash, network, source: 'recorded' };
    const rail = this.d.networks.of(p);
    if (!rail) throw fail('unsupported_network', { message: `this payment's network (${network}) is not read here` });
    const chain = this.d.networks.gateway(rail.network.id);
    const candidates =
      p.provider === 'shkeeper' && p.externalId && this.d.shkeeper ? await this.fromShkeeper(p) : await this.fromLogs(p, chain, rail.token.contract);
    for (const { hash, source } of candidates) {
      const v = await this.d.proofs.prove(p, hash);
      if (v.kind !== 'credit') continue;
      try {
        await this.d.coordinator.recordFundingEvidence(p.id, v.transfer, { source: 'fetch_tx', actor: 'system' });
      } catch (err) {
        if (isAppError(err, 'transaction_hash_in_use', 'transfer_mismatch')) continue;
        throw err;
      }
      return { transactionHash: hash, network, source };
    }
    throw fail('transaction_search_found_nothing');
  }

  /** SHKeeper's txids for the invoice; each is then proven on chain, hence `source: chain` as in the seed. */
  private async fromShkeeper(p: PaymentRecord): Promise<{ hash: string; source: 'chain' }[]> {
    const invoices = await this.d.shkeeper!.getInvoices(p.externalId!);
    return invoices
      .flatMap((i) => i.txs.map((t) => t.txid))
      .filter((t) => EVM_TX.test(t))
      .map((t) => ({ hash: t.toLowerCase(), source: 'chain' as const }));
  }

  /** Transfers to the payment's receiver: from its proven wallets after their proofs (shared receiver), or from anyone (its own invoice address). */
  private async fromLogs(p: PaymentRecord, chain: ChainGateway, token: string): Promise<{ hash: string; source: 'chain' }[]> {
    const to = this.d.proofs.receiverOf(p);
    const latest = await chain.blockNumber();
    const window = Math.max(0, latest - this.d.config.legacy.fetchBlockWindow);
    if (this.d.proofs.bindingOf(p) === 'invoice_address') {
      return (await chain.findTransfers({ token, to, fromBlock: window, toBlock: latest })).map((t) => ({ hash: t.txHash.toLowerCase(), source: 'chain' }));
    }
    const payers = ledgerOf(p).payers;
    if (payers.length === 0) {
      throw fail('wallet_not_proven', {
        message: 'no wallet was proven for this payment, so no transfer to the shared escrow receiver can be tied to it',
      });
    }
    const found: { hash: string; source: 'chain' }[] = [];
    for (const w of payers) {
      const fromBlock = Math.max(window, w.provenAtBlock + 1);
      for (const t of await chain.findTransfers({ token, to, from: w.wallet, fromBlock, toBlock: latest }))
        found.push({ hash: t.txHash.toLowerCase(), source: 'chain' });
    }
    return found;
  }
}
