import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { DeliveryLog } from '../../core/webhooks/deliveryLog.js';
import { inboxKey, type DeliveryResult, type WebhookInbox } from '../../core/webhooks/webhookInbox.js';
import { parseJsonBody } from '../../adapters/shkeeper/webhookPayload.js';
import { jsonBodyProblem } from '../../platform/http/http.js';
import { verifyShkeeperSignature } from '../../adapters/shkeeper/webhookSignature.js';
import type { Store } from '../../core/store/store.js';
import { payoutCallback } from './payoutSchemas.js';
import type { PayoutUpdates } from './payoutUpdates.js';
import { refused, type WebhookRefusal } from '../shared/webhookOutcome.js';

/**
 * What became of a payout callback: taken (recorded for the inbox; `data` names the delivery row),
 * or refused with a catalog code.
 */
export type PayoutCallbackOutcome = { kind: 'accepted'; message: string; data: { deliveryId: string } | null } | WebhookRefusal;

/**
 * SHKeeper's payout callback (`processPayoutWebhookEvent`): signed like invoice callbacks but
 * without the API-key header, so only the HMAC forms are accepted. `accepted` once recorded in the
 * inbox (the route answers 202; SHKeeper retries anything else only up to 7 times, so a failure of
 * ours is better retried by the inbox than left to those); `apply` moves the payout afterwards.
 * Refusals are answered in the spec's `{ success, message, data }`.
 */
export class PayoutWebhookService {
  constructor(private readonly d: { config: Config; store: Store; deliveries: DeliveryLog; inbox: WebhookInbox; updates: PayoutUpdates; clock: Clock }) {
    d.inbox.handle('payout', (delivery) => this.apply(delivery));
  }

  async receive(headers: Record<string, string | string[] | undefined>, raw: Buffer): Promise<PayoutCallbackOutcome> {
    const secret = this.d.config.shkeeper.webhookSecret;
    if (!secret) return refused('not_configured', 'SHKEEPER_WEBHOOK_SECRET (or SHKEEPER_API_KEY) is not configured');
    const base = { kind: 'payout' as const, externalId: null, status: null, txids: [] };
    const verdict = verifyShkeeperSignature(headers, raw, { secret, nowSeconds: Math.floor(this.d.clock.now().getTime() / 1000) });
    if (!verdict.ok) {
      await this.d.deliveries.badSignature('payout', verdict.reason);
      return refused('invalid_signature', 'the webhook signature is missing or invalid');
    }
    let body: unknown;
    try {
      body = parseJsonBody(raw);
    } catch {
      body = undefined; // not JSON: malformed, below
    }
    // As the invoice callback's: nested too deep, or text no store keeps as sent.
    const problem = body === undefined ? undefined : jsonBodyProblem(body);
    if (problem) {
      await this.d.deliveries.received({ ...base, verification: verdict.method, verificationError: null }, 'malformed', problem.code);
      return refused(problem.code, problem.message);
    }
    const parsed = body === undefined ? undefined : payoutCallback.safeParse(body);
    if (!parsed?.success) {
      await this.d.deliveries.received({ ...base, verification: verdict.method, verificationError: null }, 'malformed');
      return refused('validation_error', 'the body is not a payout callback');
    }
    const cb = parsed.data;
    const delivery = await this.d.deliveries.queued(
      { kind: 'payout', verification: verdict.method, verificationError: null, externalId: cb.external_id, status: cb.status, txids: [cb.tx_hash] },
      raw.toString('utf8'),
      inboxKey('payout', cb.external_id),
    );
    this.d.inbox.recorded();
    return accepted('payout callback recorded', { deliveryId: delivery.id });
  }

  /**
   * The inbox's applier for payout callbacks: deduplicated by (external id, tx hash, status), then the
   * payout's status moves (`PayoutUpdates.applyStatus`). Throws on a failure of ours, so the inbox
   * retries it.
   */
  async apply(delivery: { body: string }): Promise<DeliveryResult> {
    const parsed = payoutCallback.safeParse(parseJsonBody(Buffer.from(delivery.body, 'utf8')));
    if (!parsed.success) return { outcome: 'malformed', detail: 'the body is not a payout callback' };
    const cb = parsed.data;
    // One key per (payout, tx hash, status): a callback of another status for the same hash is not its duplicate.
    const dedupeKey = `payout:${cb.external_id}:${cb.tx_hash}:${cb.status.toUpperCase()}`;
    if (await this.d.deliveries.alreadyApplied(dedupeKey)) return { outcome: 'duplicate' };
    const payout = await this.d.store.payments.findOne({ externalId: cb.external_id, direction: 'out' });
    if (!payout) return { outcome: 'unknown_invoice', detail: `no payout has external id ${cb.external_id}` };
    const updated = await this.d.updates.applyStatus(payout, { status: cb.status.toUpperCase(), txid: cb.tx_hash }, 'shkeeper_payout_webhook');
    // Only the delivery that moved the payout claims the key (as on the invoice side): one that
    // changed nothing must not stand in the way of a later one that does.
    if (updated.status === payout.status) return { outcome: 'duplicate', paymentId: payout.id };
    return { outcome: 'applied', dedupeKey, paymentId: payout.id };
  }
}

function accepted(message: string, data: { deliveryId: string } | null = null): PayoutCallbackOutcome {
  return { kind: 'accepted', message, data };
}
