import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import type { Config } from '../../platform/config.js';
import { IntervalMonitor } from '../../platform/monitors/intervalMonitor.js';
import type { PaymentRecord } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import type { WebhookInbox } from '../../core/webhooks/webhookInbox.js';
import type { InvoiceEvents } from './invoiceEvents.js';
import type { ShkeeperClient, ShkeeperInvoiceState } from '../../adapters/shkeeper/shkeeperClient.js';
import type { NormalisedInvoiceEvent } from '../../adapters/shkeeper/webhookPayload.js';

const BATCH = 100;

/**
 * The fallback for lost webhooks: SHKeeper payments still pending after a while are looked up
 * with `GET /api/v1/invoices/<external_id>` and what is found goes through the webhook's own path.
 * That endpoint reports PAID before the confirmations SHKeeper itself waits for (spec §4), so what
 * is found here credits the escrow only with transfers this chain proves (each EVM txid read on
 * chain, credited for what it moved: the ledger decides whether that completes the payment);
 * otherwise the payment is marked processing and the webhook or the chain finishes it. Deliveries
 * of such a payment that the inbox gave up on (an outage of ours outlasted their retries) are
 * queued again first: SHKeeper was answered 202 for them and will not re-send them.
 */
export class AutoWebhookMonitor extends IntervalMonitor {
  private checked = 0;
  private applied = 0;
  private revived = 0;

  constructor(
    private readonly deps: {
      config: Config;
      store: Store;
      clock: Clock;
      invoiceEvents: InvoiceEvents;
      inbox: WebhookInbox;
      shkeeper?: ShkeeperClient;
    },
    logger: Logger,
  ) {
    const m = deps.config.monitors.autoWebhook;
    super('autoWebhook', m.intervalMs, m.enabled && deps.shkeeper !== undefined, logger.child({ monitor: 'autoWebhook' }));
  }

  protected details() {
    return {
      thresholdMs: this.deps.config.monitors.autoWebhook.afterMs,
      checked: this.checked,
      applied: this.applied,
      revived: this.revived,
      configured: !!this.deps.shkeeper,
    };
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
      // SHKeeper's own word, verified when it came and given up by the inbox during an outage of
      // ours: it is not re-sent (it was answered 202), so it is queued again while the payment is open.
      const revived = await this.deps.inbox.revive('invoice', p.externalId!);
      if (revived > 0) {
        this.revived += revived;
        this.logger.info({ paymentId: p.id, revived }, 'queued again the given-up deliveries of an open payment');
      }
      const invoices = await shkeeper.getInvoices(p.externalId!);
      const invoice = invoices.find((i) => ['PAID', 'OVERPAID', 'PARTIAL'].includes(i.status));
      if (!invoice || invoice.txs.length === 0) continue;
      const result = await this.deps.invoiceEvents.apply(this.eventFor(p, invoice), 'auto_webhook', { evidence: 'chain' });
      if (result.outcome === 'applied') this.applied++;
    }
  }

  /**
   * The polled invoice as an event. Its transactions carry their own crypto and address; the
   * invoice's crypto and address are checked per transaction, and each one is credited only when
   * this chain proves it (`evidence: 'chain'`).
   */
  private eventFor(p: PaymentRecord, invoice: ShkeeperInvoiceState): NormalisedInvoiceEvent {
    const tx = invoice.txs.at(-1)!;
    return {
      externalId: p.externalId!,
      action: invoice.status === 'PARTIAL' ? { kind: 'partial', status: 'PARTIAL' } : { kind: 'paid', status: invoice.status as 'PAID' | 'OVERPAID' },
      crypto: null,
      addr: null,
      transactions: invoice.txs.map((t) => ({ txid: t.txid, crypto: t.crypto, amountCrypto: t.amount, addr: t.addr })),
      trigger: { txid: tx.txid, crypto: tx.crypto, amountCrypto: tx.amount },
      txids: invoice.txs.map((t) => t.txid),
      snapshot: { status: invoice.status, balanceFiat: invoice.balanceFiat, txids: invoice.txs.map((t) => t.txid), polled: true },
      dedupeKey: `${p.externalId}:${tx.txid}:${tx.crypto}`,
    };
  }
}
