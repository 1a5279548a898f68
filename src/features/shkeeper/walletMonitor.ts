import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import type { NetworkConfig } from '../../platform/networkRegistry.js';
import { isAddress } from 'ethers';
import type { ChainGateway } from '../../core/chain/chainTypes.js';
import { isAppError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Config } from '../../platform/config.js';
import { IntervalMonitor } from '../../platform/monitors/intervalMonitor.js';
import { creditKey } from '../../core/payments/escrowLedger.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import type { PaymentSettlement } from '../../core/payments/paymentSettlement.js';
import type { PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';

const MAX_WATCHED = 500;
/**
 * Blocks behind the last scanned head that every run scans again (at least BSC_CONFIRMATIONS):
 * a reorg can replace blocks already scanned with ones holding other transfers. Transfers found
 * twice are credited once — the ledger's credit key is per transfer.
 */
export const REORG_MARGIN_BLOCKS = 12;

/**
 * Watches the pay addresses of open SHKeeper payments on chain, so a payment completes even when
 * both SHKeeper's webhook and the buyer's confirm call are lost. Each token transfer to a watched
 * address is proven like any other claim (`InflowProofs`, bound to the invoice address) and
 * credited through the ledger (`settlement.credit`) for what it moved; transfers not yet deep
 * enough mark the payment processing and are re-checked on later runs.
 */
export class WalletMonitor extends IntervalMonitor {
  private lastScannedBlock: number | null = null;
  private watched: string[] = [];
  /** Per network id: the last block scanned there. */
  private lastScanned = new Map<string, number>();
  private awaitingConfirmations = new Map<string, string>(); // `<network>:<txHash>` → paymentId
  private settled = 0;

  constructor(
    private readonly deps: { config: Config; store: Store; settlement: PaymentSettlement; proofs: InflowProofs; networks: ChainNetworks },
    logger: Logger,
  ) {
    const m = deps.config.monitors.wallet;
    super('walletMonitor', m.intervalMs, m.enabled && deps.networks.readable().length > 0, logger.child({ monitor: 'walletMonitor' }));
  }

  protected details() {
    const scanned = Object.fromEntries(this.lastScanned);
    return {
      isMonitoring: this.watched.length > 0,
      watchedAddresses: this.watched,
      // The default network's, as before several networks; `lastScannedBlocks` has each one's.
      lastScannedBlock: this.lastScanned.get(this.deps.networks.defaultNetwork?.id ?? '') ?? null,
      lastScannedBlocks: scanned,
      reorgMarginBlocks: Math.max(REORG_MARGIN_BLOCKS, this.deps.networks.defaultNetwork?.confirmations ?? 0),
      awaitingConfirmations: this.awaitingConfirmations.size,
      settled: this.settled,
      configured: this.deps.networks.readable().length > 0,
    };
  }

  /** Each network is scanned on its own chain, for the token contract of each payment watched there. */
  protected async runOnce(): Promise<void> {
    const watched: string[] = [];
    for (const { network, gateway } of this.deps.networks.readable()) watched.push(...(await this.scan(network, gateway)));
    this.watched = watched;
  }

  private async scan(network: NetworkConfig, chain: ChainGateway): Promise<string[]> {
    const { store, config, networks } = this.deps;
    const margin = Math.max(REORG_MARGIN_BLOCKS, network.confirmations);
    // Only payments on this network: another network's pay address (a Tron `T…`) is no EVM address,
    // and one such record would fail every run for all the others.
    const open = (
      await store.payments.find(
        { provider: 'shkeeper', status: { $in: ['pending', 'processing'] }, payAddress: { $ne: null }, 'blockchain.network': network.id },
        { sort: { createdAt: 1 }, limit: MAX_WATCHED },
      )
    ).filter((p) => isAddress(p.payAddress) && networks.of(p)?.network.id === network.id);
    const latest = await chain.blockNumber();
    const last = this.lastScanned.get(network.id);
    const fromBlock = last === undefined ? Math.max(0, latest - config.monitors.wallet.blockWindow) : Math.max(0, Math.min(last + 1, latest) - margin);

    const checked = new Set<string>();
    const byId = new Map(open.map((p) => [p.id, p]));
    for (const [awaited, paymentId] of this.awaitingConfirmations) {
      const [awaitedNetwork, txHash] = awaited.split(':') as [string, string];
      if (awaitedNetwork !== network.id) continue;
      const p = byId.get(paymentId);
      if (!p) this.awaitingConfirmations.delete(awaited);
      else await this.check(network, p, txHash, checked);
    }
    for (const p of open) {
      const token = networks.of(p)!.token.contract;
      const transfers = await chain.findTransfers({ token, to: p.payAddress!, fromBlock, toBlock: latest });
      for (const t of transfers) await this.check(network, p, t.txHash, checked);
    }
    this.lastScanned.set(network.id, latest);
    return open.map((p) => p.payAddress!);
  }

  private async check(network: NetworkConfig, p: PaymentRecord, txHash: string, checked: Set<string>): Promise<void> {
    const { store, settlement, proofs } = this.deps;
    const hash = txHash.toLowerCase();
    const awaited = `${network.id}:${hash}`;
    const key = creditKey(network.id, hash, p.payAddress!);
    if (checked.has(`${p.id}:${key}`)) return;
    checked.add(`${p.id}:${key}`);
    // Credited already (here, or to another payment SHKeeper gave the same address): a rescan.
    if (await store.payments.findOne({ creditKeys: key })) {
      this.awaitingConfirmations.delete(awaited);
      return;
    }
    const verdict = await proofs.prove(p, hash, 'invoice_address');
    const step = { source: 'wallet_monitor', actor: 'system' };
    if (verdict.kind === 'credit') {
      this.awaitingConfirmations.delete(awaited);
      try {
        const r = await settlement.credit(p.id, verdict.transfer, step);
        if (r.outcome === 'funded') this.settled++;
      } catch (err) {
        if (!isAppError(err, 'transfer_already_credited')) throw err;
      }
    } else if (verdict.kind === 'seen') {
      this.awaitingConfirmations.set(awaited, p.id);
      await settlement.markProcessing(p.id, step);
    } else {
      // Reorged out, reverted, another token: nothing to credit.
      this.awaitingConfirmations.delete(awaited);
    }
  }
}
