import { createHash } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import { IntervalMonitor } from '../../platform/monitors/intervalMonitor.js';
import { newJob } from '../jobs/jobState.js';
import type { EventDeliveryRecord, WebhookEndpointRecord } from '../store/eventRecords.js';
import type { PaymentRecord, PendingEvent } from '../store/records.js';
import type { Store } from '../store/store.js';

/** How many payments with unrecorded events one read takes. */
const BATCH = 50;

/** The body every endpoint receives for an event: the same bytes for each try (a try signs them afresh). */
export function eventBody(e: { id: string; type: string; createdAt: Date; data: Record<string, unknown> }): string {
  return JSON.stringify({ id: e.id, object: 'event', type: e.type, created: Math.floor(e.createdAt.getTime() / 1000), data: e.data });
}

/** True when `endpoint` takes events of `type`. */
export function subscribes(endpoint: Pick<WebhookEndpointRecord, 'enabled' | 'eventTypes'>, type: string): boolean {
  return endpoint.enabled && (endpoint.eventTypes.includes('*') || endpoint.eventTypes.includes(type));
}

/** The queue key of an endpoint's deliveries for one payment: in order within it, independent across. */
export const deliveryKey = (endpointId: string, paymentId: string) => `${endpointId}:${paymentId}`;

/**
 * Moves events from the payments' outbox (`pendingEvents`, written with each change) to the event
 * log and to one queued delivery per subscribed endpoint, then removes them from the outbox. Each
 * step is idempotent (the event's id is fixed with the change; a delivery's id is derived from the
 * event and endpoint), so a relay that dies midway, or two relays at once, record each event and
 * each delivery once. It is a monitor (leader-run with Redis) and is kicked after every write that
 * queued events.
 */
export class EventRelay extends IntervalMonitor {
  /** Told after a pass recorded deliveries (the delivery queue's kick). */
  onRecorded?: () => void;
  private dirty = false;
  private started = false;
  private counts = { events: 0, deliveries: 0 };

  constructor(
    private readonly d: { store: Store; clock: Clock; pollMs: number; retentionMs: number },
    logger: Logger,
  ) {
    super('eventRelay', d.pollMs, true, logger.child({ monitor: 'eventRelay' }));
  }

  override start(): void {
    super.start();
    this.started = true;
  }

  override async stop(): Promise<void> {
    this.started = false;
    await super.stop();
  }

  /**
   * Something was written with events: relay soon, after the caller's turn (and again if a pass is
   * under way). Only once started (the server starts its monitors; a test may `drain`).
   */
  kick(): void {
    if (!this.started) return;
    this.dirty = true;
    setImmediate(() => {
      void this.tick().then(() => (this.dirty ? this.tick() : undefined));
    });
  }

  /** Relays every pending event now, whether or not this instance leads (tests, an operator). */
  async drain(): Promise<void> {
    await this.tick();
    await this.runOnce();
  }

  protected details() {
    return { relayed: { ...this.counts } };
  }

  protected async runOnce(): Promise<void> {
    for (;;) {
      this.dirty = false;
      const batch = await this.d.store.payments.find({ 'pendingEvents.id': { $type: 'string' } }, { limit: BATCH });
      if (batch.length === 0) return;
      // A handful of rows, read whole.
      const endpoints = (await this.d.store.webhookEndpoints.find({})).filter((e) => e.enabled);
      for (const p of batch) {
        const events = p.pendingEvents ?? [];
        for (const e of events) await this.relay(p, e, endpoints);
        // Bookkeeping, not a change of the payment: its updatedAt stays the change's own. One
        // update for all of the payment's relayed events; any pushed since this read stay.
        const ids = events.map((e) => e.id);
        await this.d.store.payments.updateOne({ id: p.id }, { $pull: { pendingEvents: { id: { $in: ids } } } }, { touch: false });
      }
      this.onRecorded?.();
    }
  }

  private async relay(p: PaymentRecord, e: PendingEvent, endpoints: WebhookEndpointRecord[]): Promise<void> {
    const { store, clock, retentionMs } = this.d;
    const now = clock.now();
    const expiresAt = new Date(now.getTime() + retentionMs);
    const event = { id: e.id, type: e.type, paymentId: p.id, data: e.data, expiresAt, createdAt: e.at, updatedAt: now };
    if (await store.paymentEvents.insertIfAbsent(event)) this.counts.events++;
    const body = eventBody(event);
    for (const endpoint of endpoints.filter((x) => subscribes(x, e.type))) {
      // The event's own time: strictly increasing per payment (written with the change), so the
      // queue keeps one payment's events in order whichever relay recorded them.
      const stamp = e.at;
      const delivery = queuedDelivery(
        { id: deliveryId(e.id, endpoint.id), endpointId: endpoint.id, eventId: e.id, eventType: e.type, paymentId: p.id, requestBody: body, expiresAt },
        stamp,
      );
      if (await store.eventDeliveries.insertIfAbsent(delivery)) this.counts.deliveries++;
    }
  }
}

/**
 * A delivery not tried yet, queued at `at` under its endpoint-and-payment key. `redeliveryOf` and
 * `requestedBy` name the delivery an admin asked to send again, and who asked.
 */
export function queuedDelivery(
  d: Pick<EventDeliveryRecord, 'id' | 'endpointId' | 'eventId' | 'eventType' | 'paymentId' | 'requestBody' | 'expiresAt'> &
    Partial<Pick<EventDeliveryRecord, 'redeliveryOf' | 'requestedBy'>>,
  at: Date,
): EventDeliveryRecord {
  return {
    redeliveryOf: null,
    requestedBy: null,
    ...d,
    status: 'pending',
    attemptLog: [],
    responseCode: null,
    responseBody: null,
    error: null,
    deliveredAt: null,
    job: newJob(deliveryKey(d.endpointId, d.paymentId), at),
    createdAt: at,
    updatedAt: at,
  };
}

/** The one delivery of event `eventId` to `endpointId`: a 24-hex id derived from both, so recording it twice is a no-op. */
export function deliveryId(eventId: string, endpointId: string): string {
  return createHash('sha256').update(`${eventId}:${endpointId}`).digest('hex').slice(0, 24);
}
