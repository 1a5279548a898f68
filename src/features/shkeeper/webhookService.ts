import type { Clock } from '../../platform/clock.js';
import { jsonBodyProblem } from '../../platform/http/http.js';
import type { Logger } from '../../platform/logger.js';
import type { Config } from '../../platform/config.js';
import type { DeliveryLog } from '../../core/webhooks/deliveryLog.js';
import { inboxKey, type DeliveryResult, type WebhookInbox } from '../../core/webhooks/webhookInbox.js';
import type { InvoiceEvents } from './invoiceEvents.js';
import { normaliseInvoiceCallback, parseJsonBody } from '../../adapters/shkeeper/webhookPayload.js';
import { verifyShkeeperSignature } from '../../adapters/shkeeper/webhookSignature.js';
import { refused, type WebhookRefusal } from '../shared/webhookOutcome.js';

/** What became of an invoice callback: taken (recorded for the inbox), or refused with a catalog code. */
export type InvoiceCallbackOutcome = { kind: 'accepted' } | WebhookRefusal;

/**
 * An invoice callback: signature first (on the raw bytes), then parse and check its shape, then
 * record it in the inbox (`accepted`: the route answers 202, the only status SHKeeper counts as
 * delivered; it re-sends anything else every ~60 s). The inbox applies it afterwards (`apply`),
 * where duplicates, stale and late callbacks, excess, refusals (another crypto or address) and
 * unknown invoices become the delivery's recorded outcome, and a failure of ours is retried by
 * the inbox rather than by SHKeeper. Bad signatures and bad bodies are `refused` (401 and 400:
 * harmless retries); a failure to record is thrown (500: SHKeeper retries it).
 */
export class ShkeeperWebhookService {
  constructor(
    private readonly config: Config,
    private readonly deliveries: DeliveryLog,
    private readonly invoiceEvents: InvoiceEvents,
    private readonly inbox: WebhookInbox,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    inbox.handle('invoice', (d) => this.apply(d));
  }

  async receiveInvoiceCallback(headers: Record<string, string | string[] | undefined>, rawBody: Buffer): Promise<InvoiceCallbackOutcome> {
    const secret = this.config.shkeeper.webhookSecret;
    if (!secret) {
      return refused('not_configured', 'SHKEEPER_WEBHOOK_SECRET (or SHKEEPER_API_KEY) is not configured');
    }
    const verdict = verifyShkeeperSignature(headers, rawBody, {
      secret,
      legacyApiKey: this.config.shkeeper.allowLegacyApiKey ? this.config.shkeeper.apiKey : undefined,
      nowSeconds: Math.floor(this.clock.now().getTime() / 1000),
    });
    const base = { kind: 'invoice' as const, externalId: null, status: null, txids: [] };
    if (!verdict.ok) {
      await this.deliveries.badSignature('invoice', verdict.reason);
      this.logger.warn({ reason: verdict.reason }, 'webhook refused: bad signature');
      return refused('invalid_signature', 'the webhook signature is missing or invalid');
    }

    let body: unknown;
    try {
      body = parseJsonBody(rawBody);
    } catch {
      await this.deliveries.received({ ...base, verification: verdict.method, verificationError: null }, 'malformed', 'not JSON');
      return refused('malformed_json', 'the webhook body is not JSON');
    }
    // Nested too deep, or text no store keeps as sent (a lone surrogate; NUL in a key): not logged or applied.
    const problem = jsonBodyProblem(body);
    if (problem) {
      await this.deliveries.received({ ...base, verification: verdict.method, verificationError: null }, 'malformed', problem.code);
      return refused(problem.code, problem.message);
    }
    const normalised = normaliseInvoiceCallback(body);
    if (!normalised.ok) {
      await this.deliveries.received({ ...base, verification: verdict.method, verificationError: null }, 'malformed', normalised.error);
      return refused('validation_error', 'the webhook body is not an invoice callback');
    }
    const event = normalised.event;
    await this.deliveries.queued(
      { kind: 'invoice', verification: verdict.method, verificationError: null, externalId: event.externalId, status: event.action.status, txids: event.txids },
      rawBody.toString('utf8'),
      inboxKey('invoice', event.externalId),
    );
    this.inbox.recorded();
    return ACCEPTED;
  }

  /**
   * The inbox's applier for invoice callbacks: the recorded body, normalised again, is applied
   * once. A delivery whose (external id, txid, crypto) another delivery already applied is a
   * `duplicate` (deliveries of one invoice are applied in order, so the first one has finished).
   * Throws on a failure of ours (the store, the chain), so the inbox retries it.
   */
  async apply(delivery: { body: string }): Promise<DeliveryResult> {
    const normalised = normaliseInvoiceCallback(parseJsonBody(Buffer.from(delivery.body, 'utf8')));
    // It was checked when it arrived; a body that no longer passes means the rules changed since.
    if (!normalised.ok) return { outcome: 'malformed', detail: normalised.error };
    const event = normalised.event;
    if (await this.deliveries.alreadyApplied(event.dedupeKey)) return { outcome: 'duplicate' };
    const result = await this.invoiceEvents.apply(event, 'shkeeper_webhook');
    // A delivery that changed nothing (`duplicate`) never claims the key: racing the one that
    // applied it, it could otherwise take the key first and turn that one into a "duplicate".
    // A refused delivery claims nothing either: it changed nothing, and nothing it names is ours.
    const keep = ['applied', 'stale', 'late_payment', 'excess'].includes(result.outcome);
    return { outcome: result.outcome, ...(keep ? { dedupeKey: event.dedupeKey } : {}), paymentId: result.paymentId, detail: result.detail };
  }
}

const ACCEPTED = { kind: 'accepted' } as const;
