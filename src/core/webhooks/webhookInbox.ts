import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import { DurableQueue, type DurableQueueOptions } from '../jobs/durableQueue.js';
import type { DeliveryOutcome, WebhookDeliveryRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { DeliveryLog } from './deliveryLog.js';

/** What applying one delivery came to. `dedupeKey`: set when this delivery is the one that applied what it names. */
export interface DeliveryResult {
  outcome: DeliveryOutcome;
  dedupeKey?: string;
  paymentId?: string;
  detail?: string;
}

/** Applies one recorded delivery of a kind (its `body` is the signed bytes as text); throws to be retried. */
export type DeliveryApplier = (delivery: WebhookDeliveryRecord & { body: string }) => Promise<DeliveryResult>;

export type InboxOptions = Omit<DurableQueueOptions, 'name'>;

/** The inbox's order key of a delivery: one invoice's (or one payout's) deliveries are applied one at a time, in arrival order. */
export const inboxKey = (kind: WebhookDeliveryRecord['kind'], externalId: string) => `${kind}:${externalId}`;

/**
 * SHKeeper's deliveries, answered as soon as they are recorded and applied here afterwards. The
 * receiving route verifies the signature on the raw bytes, checks the body's shape and records it
 * (`DeliveryLog.queued`: the delivery row is the queue entry); SHKeeper gets its 202 then, and
 * the inbox's worker (a `DurableQueue` over the delivery log, leader-run with Redis) applies it:
 * deliveries of one invoice (or payout) in the order they arrived, our own failures retried with
 * backoff, each delivery's outcome written on its row in the same update that marks it done, and
 * whatever a stopped process left recorded applied by the next one. Each kind's applier is
 * registered by the feature that owns it (`handle`).
 */
export class WebhookInbox {
  readonly queue: DurableQueue<WebhookDeliveryRecord>;
  private readonly appliers = new Map<WebhookDeliveryRecord['kind'], DeliveryApplier>();

  constructor(
    private readonly store: Store,
    deliveries: DeliveryLog,
    private readonly clock: Clock,
    logger: Logger,
    options: InboxOptions,
  ) {
    this.queue = new DurableQueue(
      store.webhookDeliveries,
      {
        run: (d) => this.apply(d),
        // A delivery that was not applied is an `error` for an operator: the invoice poller and
        // the wallet monitor still find the money it announced.
        gaveUp: (_d, error) => ({ outcome: 'error', detail: error.slice(0, 200) }),
        // Another delivery applied the same (external id, txid, crypto) first: this one is its duplicate.
        onDuplicateKey: (done) => ({ ...done, outcome: 'duplicate', dedupeKey: null }),
        settled: (d) => deliveries.settled(d),
      },
      clock,
      logger.child({ module: 'webhook-inbox' }),
      { name: 'webhook-inbox', ...options },
    );
  }

  /** Registers how deliveries of `kind` are applied (one applier per kind). */
  handle(kind: WebhookDeliveryRecord['kind'], applier: DeliveryApplier): void {
    this.appliers.set(kind, applier);
  }

  /** A delivery was just recorded here: look for work now rather than at the next poll. */
  recorded(): void {
    this.queue.kick();
  }

  /**
   * Queues again the deliveries of `externalId` that the inbox gave up on (`dead`: every attempt
   * failed, an outage of ours), with their attempts reset; they keep their place, before the
   * invoice's later deliveries. Called for payments still open: SHKeeper was answered 202 and
   * will not re-send them, so without this a long outage would lose what they announced.
   * Returns how many were queued.
   */
  async revive(kind: WebhookDeliveryRecord['kind'], externalId: string): Promise<number> {
    const n = await this.store.webhookDeliveries.updateMany(
      { externalId, kind, 'job.state': 'dead' },
      {
        $set: {
          'job.state': 'queued',
          'job.key': inboxKey(kind, externalId),
          'job.attempts': 0,
          'job.runAt': this.clock.now(),
          'job.finishedAt': null,
          outcome: 'received',
          detail: null,
        },
      },
    );
    if (n > 0) this.queue.kick();
    return n;
  }

  /** Applies everything due now (tests; a shutdown that wants the inbox empty). */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  private async apply(d: WebhookDeliveryRecord): Promise<Record<string, unknown>> {
    const applier = this.appliers.get(d.kind);
    if (!applier) throw new Error(`no applier for ${d.kind} deliveries in this process`);
    if (typeof d.body !== 'string') throw new Error('the delivery was queued without its body');
    const r = await applier({ ...d, body: d.body });
    return { outcome: r.outcome, dedupeKey: r.dedupeKey ?? null, paymentId: r.paymentId ?? null, detail: r.detail ?? null };
  }
}
