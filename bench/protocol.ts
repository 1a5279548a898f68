/**
 * The IPC contract between the bench runner (parent, runs the load generator) and the bench
 * server (child, runs the app). Kept type-only so both sides agree at compile time and neither
 * imports the other's runtime code.
 */

/** Sent once by the child when every listener is up. */
export interface ReadyMessage {
  type: 'ready';
  /** The real app from `startServer` (auth, logging, MemoryStore). */
  appUrl: string;
  /** A bare Express app answering the same JSON with no auth and no logging. */
  baselineUrl: string;
  /** A payment already in the store, visible to `token`'s user. */
  paymentId: string;
  /** `Bearer …` signed with the app's configured secret. */
  authorization: string;
  /** The app's SHKeeper webhook secret, so the runner can sign deliveries as SHKeeper does. */
  webhookSecret: string;
  /** A bare Express POST that reads the raw body and answers 202: the webhook baseline. */
  baselineWebhookUrl: string;
  /**
   * The same bare Express app (both routes, same paths) on a server made with the app's request
   * and response classes (src/platform/http/messageClasses.ts), as `startServer` makes the app's.
   */
  classesBaselineUrl: string;
}

/** Requests the parent may make; each carries an id echoed in the reply. */
export type Request =
  | { type: 'seedPayments'; userId: string; count: number }
  | { type: 'rssStart'; intervalMs: number }
  | { type: 'rssStop' }
  | { type: 'cpuStart' }
  | { type: 'cpuStop' }
  | { type: 'seedInvoices'; count: number }
  | { type: 'invoiceCounts'; externalIds: string[] }
  | { type: 'inboxDepth' }
  | { type: 'growTo'; payments: number; fixtures: number }
  | { type: 'growthCheck'; externalIds: string[] };

export interface SeedResult {
  inserted: number;
  ms: number;
  authorization: string;
}

export interface RssStartResult {
  baselineBytes: number;
}

export interface RssStopResult {
  baselineBytes: number;
  peakBytes: number;
  samples: number;
}

/**
 * The server process's CPU time between `cpuStart` and `cpuStop` (`process.cpuUsage()`), in µs,
 * and the garbage collector's pauses in that window (node:perf_hooks `gc` entries), in µs.
 */
export interface CpuStopResult {
  userUs: number;
  systemUs: number;
  gcPauseUs: number;
}

export interface InvoiceCounts {
  completed: number;
  notCompleted: number;
  deliveries: { success: number; duplicate: number; failure: number; badSignature: number };
}

/** How many records each collection holds (the growth section's "store size"). */
export interface StoreCounts {
  payments: number;
  purchaseRequests: number;
  sellerOffers: number;
  webhookDeliveries: number;
  idempotencyKeys: number;
}

/** An open purchase request of the growth section's intent buyer with a pending offer: one intent's body. */
export interface IntentFixture {
  purchaseRequestId: string;
  sellerOfferId: string;
  sellerId: string;
  amount: string;
}

/** A pending SHKeeper invoice of 10 USDT a signed callback can complete: its external id and its own address. */
export interface InvoiceFixture {
  externalId: string;
  address: string;
}

export interface GrowResult {
  /** After seeding and fixtures, before any measured request. */
  counts: StoreCounts;
  ms: number;
  invoices: InvoiceFixture[];
  intents: IntentFixture[];
  /** The user with exactly `listUserPayments` payments whose list and stats are measured. */
  listUser: { authorization: string; payments: number };
  /** The buyer of every intent fixture. */
  intentBuyer: { authorization: string };
}

export interface GrowthCheck {
  completed: number;
  counts: StoreCounts;
}

export interface ReplyMap {
  seedInvoices: { externalIds: string[]; ms: number };
  invoiceCounts: InvoiceCounts;
  /** Webhook deliveries recorded and not yet applied (an indexed count: cheap enough to poll). */
  inboxDepth: number;
  seedPayments: SeedResult;
  rssStart: RssStartResult;
  rssStop: RssStopResult;
  cpuStart: null;
  cpuStop: CpuStopResult;
  growTo: GrowResult;
  growthCheck: GrowthCheck;
}

export type RequestEnvelope = Request & { id: number };

export type ReplyEnvelope = { type: 'reply'; id: number; ok: true; result: unknown } | { type: 'reply'; id: number; ok: false; error: string };

export type ChildMessage = ReadyMessage | ReplyEnvelope;
