import type { ChainGateway } from '../chain/chainTypes.js';
import { AppError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { toBaseUnits } from '../common/money.js';
import type { Config } from '../config/config.js';
import type { PaymentCoordinator } from '../payments/paymentCoordinator.js';
import type { ShkeeperClient } from '../shkeeper/shkeeperClient.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

const EVM_TX = /^0x[0-9a-fA-F]{64}$/;
const SETTLED = ['completed', 'released', 'refunded'];

export interface Backfilled {
  transactionHash: string;
  network: string;
  source: 'recorded' | 'shkeeper' | 'chain';
}

/**
 * Finds the missing transaction hash of a completed payment: from SHKeeper's invoice (checked on
 * chain when a chain is configured) for SHKeeper payments, else by scanning the token's Transfer
 * logs to the address that was paid, in a bounded block window. A hash already recorded on
 * another payment is never taken.
 */
export class TransactionBackfill {
  constructor(
    private readonly d: { config: Config; store: Store; coordinator: PaymentCoordinator; logger: Logger; chain?: ChainGateway; shkeeper?: ShkeeperClient },
  ) {}

  async fetch(p: PaymentRecord): Promise<Backfilled> {
    const network = p.blockchain?.network ?? 'bsc';
    if (p.transactionHash) return { transactionHash: p.transactionHash, network, source: 'recorded' };
    if (!SETTLED.includes(p.status)) {
      throw new AppError('invalid_state', 'only a completed payment has a transaction to look for', { code: 'payment_not_completed' });
    }
    const found = p.provider === 'shkeeper' && p.externalId && this.d.shkeeper ? await this.fromShkeeper(p) : await this.fromLogs(p);
    if (!found) throw new AppError('not_found', 'no matching transaction was found', { code: 'transaction_not_found' });
    try {
      await this.d.coordinator.patch(p.id, { transactionHash: found.hash.toLowerCase() }, { transactionHash: null });
    } catch (err) {
      if ((err as AppError).code === 'duplicate_key') {
        throw new AppError('conflict', 'the transaction found is already recorded on another payment', { code: 'transaction_hash_in_use' });
      }
      throw err;
    }
    return { transactionHash: found.hash.toLowerCase(), network, source: found.source };
  }

  private async fromShkeeper(p: PaymentRecord): Promise<{ hash: string; source: 'shkeeper' | 'chain' } | undefined> {
    const invoices = await this.d.shkeeper!.getInvoices(p.externalId!);
    const txids = invoices.flatMap((i) => i.txs.map((t) => t.txid)).filter((t) => EVM_TX.test(t));
    for (const txid of txids) {
      if (await this.usedElsewhere(p, txid)) continue;
      if (!this.d.chain || !p.payAddress) return { hash: txid, source: 'shkeeper' };
      const v = await this.d.chain.verifyTransfer(txid, this.expectation(p, p.payAddress));
      if (v.status === 'confirmed') return { hash: txid, source: 'chain' };
    }
    return undefined;
  }

  private async fromLogs(p: PaymentRecord): Promise<{ hash: string; source: 'chain' } | undefined> {
    const chain = this.d.chain;
    const to = p.payAddress ?? this.d.config.escrow.receiverAddress;
    if (!chain || !to) throw new AppError('unavailable', 'chain access is not configured (BSC_RPC_URL)', { code: 'not_configured' });
    const latest = await chain.blockNumber();
    const fromBlock = Math.max(0, latest - this.d.config.legacy.fetchBlockWindow);
    const transfers = await chain.findTransfers({ token: this.d.config.bsc.usdtAddress, to, fromBlock, toBlock: latest });
    const amount = toBaseUnits(p.amount.amount, this.d.config.bsc.usdtDecimals);
    for (const t of transfers) {
      if (t.amount < amount || (await this.usedElsewhere(p, t.txHash))) continue;
      return { hash: t.txHash, source: 'chain' };
    }
    return undefined;
  }

  private expectation(p: PaymentRecord, to: string) {
    return {
      token: this.d.config.bsc.usdtAddress,
      to,
      minAmount: toBaseUnits(p.amount.amount, this.d.config.bsc.usdtDecimals),
      confirmations: this.d.config.bsc.confirmations,
    };
  }

  private async usedElsewhere(p: PaymentRecord, hash: string): Promise<boolean> {
    const h = hash.toLowerCase();
    const other = await this.d.store.payments.findOne({ $or: [{ transactionHash: h }, { releaseTxHash: h }, { refundTxHash: h }] });
    return other !== null && other.id !== p.id;
  }
}
