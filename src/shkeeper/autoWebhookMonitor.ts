import type { ChainGateway } from '../chain/chainTypes.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { toBaseUnits } from '../common/money.js';
import type { Config } from '../config/config.js';
import { IntervalMonitor } from '../monitors/intervalMonitor.js';
import type { PaymentRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { InvoiceEvents } from './invoiceEvents.js';
import type { ShkeeperClient, ShkeeperInvoiceState } from './shkeeperClient.js';
import type { NormalisedInvoiceEvent } from './webhookPayload.js';

const BATCH = 100;

/**
 * The fallback for lost webhooks: SHKeeper payments still pending after a while are looked up
 * with `GET /api/v1/invoices/<external_id>` and what is found goes through the webhook's own path.
 * That endpoint reports PAID before the confirmations SHKeeper itself waits for (spec §4), so a
 * PAID found here completes a payment only when the chain confirms a transfer for the full amount;
 * otherwise the payment is marked processing and the webhook or the chain finishes it.
 */
export class AutoWebhookMonitor extends IntervalMonitor {
  private checked = 0;
  private applied = 0;

  constructor(
    private readonly deps: {
      config: Config;
      store: Store;
      clock: Clock;
      invoiceEvents: InvoiceEvents;
      shkeeper?: ShkeeperClient;
      chain?: ChainGateway;
    },
    logger: Logger,
  ) {
    const m = deps.config.monitors.autoWebhook;
    super('autoWebhook', m.intervalMs, m.enabled && deps.shkeeper !== undefined, logger.child({ monitor: 'autoWebhook' }));
  }

  protected details() {
    return { thresholdMs: this.deps.config.monitors.autoWebhook.afterMs, checked: this.checked, applied: this.applied, configured: !!this.deps.shkeeper };
  }

  protected async runOnce(): Promise<void> {
    const { store, shkeeper, clock, config } = this.deps;
    if (!shkeeper) return;
    const cutoff = new Date(clock.now().getTime() - config.monitors.autoWebhook.afterMs);
    const stale = await store.payments.find(
      { provider: 'shkeeper', status: { $in: ['pending', 'processing'] }, externalId: { $ne: null }, createdAt: { $lte: cutoff } },
      { sort: { createdAt: 1 }, limit: BATCH },
    );
    for (const p of stale) {
      this.checked++;
      const invoices = await shkeeper.getInvoices(p.externalId!);
      const invoice = invoices.find((i) => ['PAID', 'OVERPAID', 'PARTIAL'].includes(i.status));
      if (!invoice || invoice.txs.length === 0) continue;
      const event = await this.eventFor(p, invoice);
      const result = await this.deps.invoiceEvents.apply(event, 'auto_webhook');
      if (result.outcome === 'applied') this.applied++;
    }
  }

  private async eventFor(p: PaymentRecord, invoice: ShkeeperInvoiceState): Promise<NormalisedInvoiceEvent> {
    const tx = invoice.txs.at(-1)!;
    const paid = invoice.status !== 'PARTIAL' && (await this.confirmedOnChain(p, invoice));
    return {
      externalId: p.externalId!,
      action: paid ? { kind: 'paid', status: invoice.status as 'PAID' | 'OVERPAID' } : { kind: 'partial', status: 'PARTIAL' },
      trigger: { txid: tx.txid, crypto: tx.crypto, amountCrypto: tx.amount },
      txids: invoice.txs.map((t) => t.txid),
      snapshot: { status: invoice.status, balanceFiat: invoice.balanceFiat, txids: invoice.txs.map((t) => t.txid), polled: true },
      dedupeKey: `${p.externalId}:${tx.txid}:${tx.crypto}`,
    };
  }

  private async confirmedOnChain(p: PaymentRecord, invoice: ShkeeperInvoiceState): Promise<boolean> {
    const { chain, config } = this.deps;
    // Only this chain can be asked; a payment on another network waits for SHKeeper's webhook.
    if (!chain || !p.payAddress || p.blockchain?.network !== 'bsc') return false;
    for (const tx of invoice.txs) {
      if (!/^0x[0-9a-fA-F]{64}$/.test(tx.txid)) continue;
      const verdict = await chain.verifyTransfer(tx.txid, {
        token: config.bsc.usdtAddress,
        to: p.payAddress,
        minAmount: toBaseUnits(p.amount.amount, config.bsc.usdtDecimals),
        confirmations: config.bsc.confirmations,
      });
      if (verdict.status === 'confirmed') return true;
    }
    return false;
  }
}
