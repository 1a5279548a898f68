import { isAddress } from 'ethers';
import type { ChainGateway } from '../chain/chainTypes.js';
import type { Logger } from '../common/logger.js';
import { toBaseUnits } from '../common/money.js';
import type { Config } from '../config/config.js';
import { IntervalMonitor } from '../monitors/intervalMonitor.js';
import type { PaymentSettlement } from '../payments/paymentSettlement.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

const MAX_WATCHED = 500;

/**
 * Watches the pay addresses of open SHKeeper payments on chain, so a payment completes even when
 * both SHKeeper's webhook and the buyer's confirm call are lost. Token transfers to a watched
 * address are verified like any other claim and settled through the same path; transfers not yet
 * deep enough are re-checked on later runs.
 */
export class WalletMonitor extends IntervalMonitor {
  private lastScannedBlock: number | null = null;
  private watched: string[] = [];
  private awaitingConfirmations = new Map<string, string>(); // txHash → paymentId
  private settled = 0;

  constructor(
    private readonly deps: { config: Config; store: Store; settlement: PaymentSettlement; chain?: ChainGateway },
    logger: Logger,
  ) {
    const m = deps.config.monitors.wallet;
    super('walletMonitor', m.intervalMs, m.enabled && deps.chain !== undefined, logger.child({ monitor: 'walletMonitor' }));
  }

  protected details() {
    return {
      isMonitoring: this.watched.length > 0,
      watchedAddresses: this.watched,
      lastScannedBlock: this.lastScannedBlock,
      awaitingConfirmations: this.awaitingConfirmations.size,
      settled: this.settled,
      configured: !!this.deps.chain,
    };
  }

  protected async runOnce(): Promise<void> {
    const { chain, store, config } = this.deps;
    if (!chain) return;
    // Only payments on this chain: another network's pay address (a Tron `T…`) is no EVM address,
    // and one such record would fail every run for all the others.
    const open = (
      await store.payments.find(
        { provider: 'shkeeper', status: { $in: ['pending', 'processing'] }, payAddress: { $ne: null }, 'blockchain.network': 'bsc' },
        { sort: { createdAt: 1 }, limit: MAX_WATCHED },
      )
    ).filter((p) => isAddress(p.payAddress));
    this.watched = open.map((p) => p.payAddress!);
    const latest = await chain.blockNumber();
    const fromBlock = this.lastScannedBlock === null ? Math.max(0, latest - config.monitors.wallet.blockWindow) : this.lastScannedBlock + 1;

    const byId = new Map(open.map((p) => [p.id, p]));
    for (const [txHash, paymentId] of this.awaitingConfirmations) {
      const p = byId.get(paymentId);
      if (!p) this.awaitingConfirmations.delete(txHash);
      else await this.check(p, txHash);
    }
    if (fromBlock <= latest) {
      for (const p of open) {
        const transfers = await chain.findTransfers({ token: config.bsc.usdtAddress, to: p.payAddress!, fromBlock, toBlock: latest });
        for (const t of transfers) await this.check(p, t.txHash);
      }
    }
    this.lastScannedBlock = latest;
  }

  private async check(p: PaymentRecord, txHash: string): Promise<void> {
    const { chain, config, store, settlement } = this.deps;
    const hash = txHash.toLowerCase();
    const usedElsewhere = await store.payments.findOne({ transactionHash: hash, id: { $ne: p.id } });
    if (usedElsewhere) return;
    const verdict = await chain!.verifyTransfer(hash, {
      token: config.bsc.usdtAddress,
      to: p.payAddress!,
      minAmount: toBaseUnits(p.amount.amount, config.bsc.usdtDecimals),
      confirmations: config.bsc.confirmations,
    });
    const step = { source: 'wallet_monitor', actor: 'system' };
    if (verdict.status === 'confirmed') {
      this.awaitingConfirmations.delete(hash);
      const r = await settlement.complete(p.id, {
        ...step,
        set: { ...(p.transactionHash ? {} : { transactionHash: hash }), 'providerData.payerAddress': verdict.from },
      });
      if (r.changed) this.settled++;
    } else if (verdict.status === 'pending') {
      this.awaitingConfirmations.set(hash, p.id);
      await settlement.markProcessing(p.id, step);
    }
  }
}
