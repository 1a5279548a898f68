import { randomBytes } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { fail } from '../../platform/errors.js';
import { newObjectId } from '../../platform/ids.js';
import { queuedDelivery } from '../../core/events/eventRelay.js';
import type { EventDeliveryRecord, WebhookEndpointRecord } from '../../core/store/eventRecords.js';
import type { Store } from '../../core/store/store.js';
import { checkEndpointUrl, type UrlPolicy } from '../../adapters/webhooks/endpointUrl.js';

/** A new signing secret: `whsec_` and 32 random bytes, base64url (the form receivers recognise from Stripe). */
const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

/** How an endpoint is shown: never its secrets, only when each was made and when a retired one stops signing. */
export function endpointView(e: WebhookEndpointRecord) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    enabled: e.enabled,
    eventTypes: e.eventTypes,
    secrets: e.secrets.map((s) => ({ createdAt: s.createdAt.toISOString(), expiresAt: s.expiresAt?.toISOString() ?? null })),
    createdBy: e.createdBy,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}

export interface EndpointInput {
  url: string;
  description?: string | null;
  enabled?: boolean;
  /** Event types, or `['*']` for all (the default). */
  eventTypes?: string[];
}

/**
 * The admin's management of webhook endpoints: create (answering the secret once), change,
 * delete, rotate the secret (the old one keeps signing beside the new one until it expires), and
 * redeliver a delivery. URLs are checked by `checkEndpointUrl` (https in production; no loopback,
 * private or link-local host unless WEBHOOK_ENDPOINTS_ALLOW_PRIVATE). Errors:
 * `webhook_endpoint_not_found`, `endpoint_url_refused`, `event_delivery_not_found`,
 * `delivery_pending`, `webhook_endpoint_disabled`.
 */
export class EndpointService {
  constructor(private readonly d: { store: Store; clock: Clock; policy: UrlPolicy; retentionMs: number; onQueued?: () => void }) {}

  async create(actor: string, input: EndpointInput) {
    const now = this.d.clock.now();
    const secret = newSecret();
    const endpoint = await this.d.store.webhookEndpoints.insertOne({
      id: newObjectId(now),
      url: this.checkedUrl(input.url),
      description: input.description ?? null,
      enabled: input.enabled ?? true,
      eventTypes: input.eventTypes ?? ['*'],
      secrets: [{ secret, createdAt: now, expiresAt: null }],
      createdBy: actor,
      createdAt: now,
      updatedAt: now,
    });
    return { ...endpointView(endpoint), secret };
  }

  async list() {
    return (await this.d.store.webhookEndpoints.find({}, { sort: { createdAt: 1, id: 1 } })).map(endpointView);
  }

  async get(id: string) {
    return endpointView(await this.mustFind(id));
  }

  async update(id: string, input: Partial<EndpointInput>) {
    await this.mustFind(id);
    const set: Record<string, unknown> = {};
    if (input.url !== undefined) set.url = this.checkedUrl(input.url);
    if (input.description !== undefined) set.description = input.description;
    if (input.enabled !== undefined) set.enabled = input.enabled;
    if (input.eventTypes !== undefined) set.eventTypes = input.eventTypes;
    const updated = Object.keys(set).length > 0 ? await this.d.store.webhookEndpoints.updateOne({ id }, { $set: set }) : await this.mustFind(id);
    if (!updated) throw fail('webhook_endpoint_not_found');
    return endpointView(updated);
  }

  /** Deletes the endpoint; its queued deliveries end `skipped`, its log stays until retention drops it. */
  async remove(id: string): Promise<void> {
    if ((await this.d.store.webhookEndpoints.deleteMany({ id })) === 0) throw fail('webhook_endpoint_not_found');
  }

  /**
   * A new current secret; the one it replaces keeps signing beside it for `overlapHours` (each
   * delivery then carries two `v1` signatures), so receivers can switch without missing events.
   * Secrets retired earlier and expired are dropped. Answers the new secret, once.
   */
  async rotateSecret(id: string, overlapHours: number) {
    const e = await this.mustFind(id);
    const now = this.d.clock.now();
    const retireAt = new Date(now.getTime() + overlapHours * 3_600_000);
    const kept = e.secrets
      .filter((s) => s.expiresAt === null || s.expiresAt > now)
      .map((s) => ({ ...s, expiresAt: s.expiresAt === null || s.expiresAt > retireAt ? retireAt : s.expiresAt }))
      .filter((s) => s.expiresAt > now);
    const secret = newSecret();
    // Conditional on the very secrets read (a timestamp could tie): of two racing rotations one
    // wins, and the other is refused rather than answering a secret that never signs.
    const updated = await this.d.store.webhookEndpoints.updateOne(
      { id, secrets: e.secrets },
      { $set: { secrets: [...kept, { secret, createdAt: now, expiresAt: null }] } },
    );
    if (!updated) throw fail('precondition_failed', { message: 'the endpoint changed while rotating; try again' });
    return { ...endpointView(updated), secret };
  }

  /**
   * Queues the event of delivery `deliveryId` to its endpoint again, as a new delivery (the log
   * keeps both), in the payment's order behind what is still queued for it. Only a finished
   * delivery (succeeded, failed, skipped) can be redelivered; the endpoint must be enabled.
   */
  async redeliver(actor: string, endpointId: string, deliveryId: string): Promise<EventDeliveryRecord> {
    const endpoint = await this.mustFind(endpointId);
    const original = await this.d.store.eventDeliveries.findOne({ id: deliveryId, endpointId });
    if (!original) throw fail('event_delivery_not_found');
    if (original.status === 'pending') throw fail('delivery_pending');
    if (!endpoint.enabled) throw fail('webhook_endpoint_disabled');
    const now = this.d.clock.now();
    const { eventId, eventType, paymentId, requestBody } = original;
    const delivery = await this.d.store.eventDeliveries.insertOne(
      queuedDelivery(
        {
          id: newObjectId(now),
          endpointId,
          eventId,
          eventType,
          paymentId,
          requestBody,
          expiresAt: new Date(now.getTime() + this.d.retentionMs),
          redeliveryOf: original.id,
          requestedBy: actor,
        },
        now,
      ),
    );
    this.d.onQueued?.();
    return delivery;
  }

  private checkedUrl(raw: string): string {
    const verdict = checkEndpointUrl(raw, this.d.policy);
    if (!verdict.ok) throw fail('endpoint_url_refused', { message: `this URL cannot receive events: ${verdict.reason}` });
    return verdict.url.toString();
  }

  private async mustFind(id: string): Promise<WebhookEndpointRecord> {
    const e = await this.d.store.webhookEndpoints.findById(id);
    if (!e) throw fail('webhook_endpoint_not_found');
    return e;
  }
}
