import type { Clock } from '../common/clock.js';
import { AppError } from '../common/errors.js';
import { newObjectId } from '../common/ids.js';
import type { DeliveryOutcome, WebhookDeliveryRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

type Received = Pick<WebhookDeliveryRecord, 'kind' | 'verification' | 'verificationError' | 'externalId' | 'status' | 'txids'>;

/**
 * Every webhook delivery is written down when it arrives and again with what became of it, so an
 * operator can see what SHKeeper sent and the counters survive restarts.
 */
export class DeliveryLog {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly observer?: { delivery(kind: string, outcome: string): void },
  ) {}

  async received(d: Received, outcome: DeliveryOutcome = 'received', detail: string | null = null): Promise<string> {
    const now = this.clock.now();
    const id = newObjectId(now);
    await this.store.webhookDeliveries.insertOne({
      id,
      provider: 'shkeeper',
      ...d,
      receivedAt: now,
      outcome,
      dedupeKey: null,
      paymentId: null,
      detail,
      createdAt: now,
      updatedAt: now,
    });
    if (outcome !== 'received') this.observer?.delivery(d.kind, outcome);
    return id;
  }

  async alreadyApplied(dedupeKey: string): Promise<boolean> {
    return (await this.store.webhookDeliveries.count({ dedupeKey })) > 0;
  }

  /**
   * Records the outcome. With a dedupe key, this delivery becomes the one that handled that
   * (external id, txid, crypto); if another delivery claimed it first, this one is a duplicate.
   */
  async finish(
    id: string,
    outcome: DeliveryOutcome,
    extra: { dedupeKey?: string; paymentId?: string; detail?: string } = {},
  ): Promise<DeliveryOutcome> {
    const set = { outcome, paymentId: extra.paymentId ?? null, detail: extra.detail ?? null };
    try {
      const d = await this.store.webhookDeliveries.updateOne({ id }, { $set: { ...set, dedupeKey: extra.dedupeKey ?? null } });
      if (d) this.observer?.delivery(d.kind, outcome);
      return outcome;
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'duplicate_key')) throw err;
      const d = await this.store.webhookDeliveries.updateOne({ id }, { $set: { ...set, outcome: 'duplicate' } });
      if (d) this.observer?.delivery(d.kind, 'duplicate');
      return 'duplicate';
    }
  }

  async stats(kind: WebhookDeliveryRecord['kind']) {
    const count = (outcome: DeliveryOutcome | DeliveryOutcome[]) =>
      this.store.webhookDeliveries.count({ kind, outcome: Array.isArray(outcome) ? { $in: outcome } : outcome });
    const [total, success, duplicate, badSignature, failure, late, stale, pending, excess, refused] = await Promise.all([
      this.store.webhookDeliveries.count({ kind }),
      count('applied'),
      count('duplicate'),
      count('bad_signature'),
      count(['error', 'malformed', 'unknown_invoice']),
      count('late_payment'),
      count('stale'),
      count('received'),
      count('excess'),
      count('refused'),
    ]);
    return { total, success, duplicate, badSignature, failure, latePayments: late, stale, inFlight: pending, excess, refused };
  }
}
