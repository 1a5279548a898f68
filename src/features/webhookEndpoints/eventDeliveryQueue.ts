import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import { DurableQueue } from '../../core/jobs/durableQueue.js';
import { SIGNATURE_HEADER, signEvent } from '../../core/events/eventSignature.js';
import type { DeliveryAttempt, EventDeliveryRecord, WebhookEndpointRecord } from '../../core/store/eventRecords.js';
import type { Store } from '../../core/store/store.js';
import type { EventSender, SendResult } from '../../adapters/webhooks/eventSender.js';

/** How many tries a delivery's log keeps, newest last. */
const KEPT_ATTEMPTS = 20;

export interface EventDeliveryOptions {
  concurrency: number;
  pollMs: number;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Retried for this long after it was queued (three days by default), then `failed`. */
  retryForMs: number;
}

/** A try that did not get a 2xx: carries what it saw into the retry's write. */
class DeliveryFailed extends Error {
  constructor(readonly fields: Record<string, unknown>) {
    super(String(fields.error));
  }
}

/** The secrets that sign now: the current one and any retired one not yet expired. */
export function liveSecrets(endpoint: WebhookEndpointRecord, now: Date): string[] {
  return endpoint.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => s.secret);
}

/**
 * Sends queued event deliveries: the durable queue of the inbox issue, over `eventDeliveries`.
 * Each try signs the stored body with a fresh timestamp and every live secret of its endpoint
 * and POSTs it; a 2xx is `succeeded`; anything else is retried with exponential backoff
 * (OUTBOUND_WEBHOOK_RETRY_BASE_MS doubling up to _MAX_MS, ±20 % jitter) for
 * OUTBOUND_WEBHOOK_RETRY_HOURS, then `failed`. A delivery whose endpoint was disabled or deleted
 * is `skipped`. Keys are `<endpoint>:<payment>`: one payment's events reach an endpoint in order,
 * and a failing payment or endpoint holds back nothing else. Leader-run with Redis.
 */
export function eventDeliveryQueue(
  d: { store: Store; clock: Clock; logger: Logger; sender: EventSender },
  o: EventDeliveryOptions,
): DurableQueue<EventDeliveryRecord> {
  const { store, clock, sender } = d;
  const attempt = (r: EventDeliveryRecord, result: SendResult, at: Date) => {
    const entry: DeliveryAttempt = { at, responseCode: result.responseCode, error: result.error, durationMs: result.durationMs };
    return {
      attemptLog: [...r.attemptLog, entry].slice(-KEPT_ATTEMPTS),
      responseCode: result.responseCode,
      responseBody: result.responseBody,
      error: result.error,
    };
  };
  return new DurableQueue<EventDeliveryRecord>(
    store.eventDeliveries,
    {
      async run(r) {
        const endpoint = await store.webhookEndpoints.findById(r.endpointId);
        if (!endpoint || !endpoint.enabled) {
          return { status: 'skipped', error: endpoint ? 'the endpoint is disabled' : 'the endpoint was deleted' };
        }
        const now = clock.now();
        const signature = signEvent(r.requestBody, liveSecrets(endpoint, now), Math.floor(now.getTime() / 1000));
        const result = await sender.send(endpoint.url, r.requestBody, {
          [SIGNATURE_HEADER]: signature,
          'Escrow-Event-Id': r.eventId,
          'Escrow-Event-Type': r.eventType,
          'Escrow-Delivery-Id': r.id,
        });
        const seen = attempt(r, result, now);
        if (!result.ok) throw new DeliveryFailed(seen);
        return { ...seen, status: 'succeeded', deliveredAt: clock.now() };
      },
      failure: (_r, err) => (err instanceof DeliveryFailed ? err.fields : { error: (err as Error)?.message ?? String(err) }),
      gaveUp: () => ({ status: 'failed' }),
    },
    clock,
    d.logger.child({ module: 'eventDeliveries' }),
    {
      name: 'eventDeliveries',
      concurrency: o.concurrency,
      pollMs: o.pollMs,
      // A try never holds its delivery longer than its timeout; the lease covers it with room to spare.
      leaseMs: Math.max(30_000, o.timeoutMs * 3),
      maxAttempts: Number.MAX_SAFE_INTEGER,
      retryBaseMs: o.retryBaseMs,
      retryMaxMs: o.retryMaxMs,
      retryForMs: o.retryForMs,
    },
  );
}
