import type { JobState } from '../jobs/jobState.js';

/**
 * The records of signed events to the marketplace (issue 16): the event log, the endpoints events
 * are sent to, and one delivery per (event, endpoint). Field names are the API's; ids are 24-hex.
 */

/** One event of a payment's change, as the relay recorded it from the payment's outbox. */
export interface PaymentEventRecord {
  /** Minted with the change itself (`PendingEvent.id`): recording it again changes nothing. */
  id: string;
  /** One of `EVENT_TYPES` (src/core/events/paymentEventLog.ts). */
  type: string;
  paymentId: string;
  /** The payment's state after the change and the change's own facts (credit, disbursement, reason). */
  data: Record<string, unknown>;
  /** Dropped after EVENT_RETENTION_DAYS (MongoDB TTL index; swept in process). */
  expiresAt: Date | null;
  /** When the change happened. */
  createdAt: Date;
  updatedAt: Date;
}

/** A signing secret; two are live during a rotation, the older one until `expiresAt`. */
export interface EndpointSecret {
  /** `whsec_` + 32 random bytes, base64url. Shown once, when created. */
  secret: string;
  createdAt: Date;
  /** Null while it is the current secret; set when a rotation retires it. */
  expiresAt: Date | null;
}

/** Where the marketplace wants events sent. */
export interface WebhookEndpointRecord {
  id: string;
  url: string;
  description: string | null;
  enabled: boolean;
  /** Event types sent here; `['*']` for every type. */
  eventTypes: string[];
  secrets: EndpointSecret[];
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

/** One try of one delivery: what the endpoint answered, or why nothing was answered. */
export interface DeliveryAttempt {
  at: Date;
  /** The HTTP status the endpoint answered; null when none arrived (refused, timed out, a refused address). */
  responseCode: number | null;
  error: string | null;
  durationMs: number;
}

export const EVENT_DELIVERY_STATUSES = ['pending', 'succeeded', 'failed', 'skipped'] as const;
export type EventDeliveryStatus = (typeof EVENT_DELIVERY_STATUSES)[number];

/**
 * One event for one endpoint, sent by the durable queue (src/core/jobs/durableQueue.ts) under the
 * key `<endpoint id>:<payment id>`: in order per payment and endpoint, and a payment whose endpoint
 * is down never holds back another payment's events.
 */
export interface EventDeliveryRecord {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  paymentId: string;
  /** The exact bytes sent (UTF-8 JSON); each try signs them with a fresh timestamp. */
  requestBody: string;
  /** `pending` while queued or retried; `failed` once given up; `skipped` when the endpoint was disabled or deleted. */
  status: EventDeliveryStatus;
  /** The latest tries, newest last (at most 20). */
  attemptLog: DeliveryAttempt[];
  /** The latest answer's status, the start of its body (at most 1 KiB), and the latest error. */
  responseCode: number | null;
  responseBody: string | null;
  error: string | null;
  deliveredAt: Date | null;
  /** A redelivery asked for by an admin: the delivery it repeats, and who asked. */
  redeliveryOf: string | null;
  requestedBy: string | null;
  job: JobState | null;
  expiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}
