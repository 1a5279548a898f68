import type { Clock } from '../../platform/clock.js';
import { fail, isDuplicateKey } from '../../platform/errors.js';
import type { PurchaseRequestRecord, PurchaseRequestStatus } from '../../core/store/records.js';
import type { Store } from '../../core/store/store.js';
import { MAX_ATTEMPTS, sameAddress, type Upserted } from './ingestRecords.js';
import { MARKETPLACE_REQUEST_STATUSES, type PurchaseRequestInput } from './ingestSchemas.js';
import type { RequestCancellation } from './requestCancellation.js';

/** A request the service has finished with: it can no longer be cancelled. */
const FINISHED: readonly PurchaseRequestStatus[] = ['seller_paid', 'refunded', 'closed'];

type Changes = Partial<Pick<PurchaseRequestRecord, 'buyerId' | 'title' | 'buyerWalletAddress' | 'status'>>;

/**
 * `PUT /purchase-requests/:id`: the marketplace's purchase requests, upserted by id.
 *
 * Rules (each refusal changes nothing):
 * - `status` may be `open` or `cancelled` only (400 `status_not_settable`). `open` on a request the
 *   service has moved on (`payment_processing`, `seller_paid`, `refunded`, `closed`) keeps the
 *   service's status: the marketplace's "still open" never rolls the service's progress back.
 * - `cancelled` is final: `open` on a cancelled request → 409 `purchase_request_cancelled`; a
 *   finished request cannot be cancelled → 409 `purchase_request_finished`.
 * - `buyerId`, and a `buyerWalletAddress` already set (the refund fallback), cannot change once any
 *   payment of the request exists → 409 `purchase_request_in_use`.
 * - Becoming cancelled runs `RequestCancellation` on the request's payments; so does a repeat of
 *   the cancel, which finishes an interrupted pass and changes nothing otherwise.
 *
 * Every write is conditional on the fields just read, so two racing PUTs are decided one after the
 * other. Throws 503 `contention` when the record keeps changing.
 */
export class PurchaseRequestIngest {
  constructor(
    private readonly d: { store: Store; clock: Clock },
    private readonly cancellation: RequestCancellation,
  ) {}

  async upsert(actor: string, id: string, input: PurchaseRequestInput): Promise<Upserted<PurchaseRequestRecord>> {
    if (!(MARKETPLACE_REQUEST_STATUSES as readonly string[]).includes(input.status)) {
      throw fail('status_not_settable', {
        message: `status ${input.status} is set by the payment service; the marketplace sets ${MARKETPLACE_REQUEST_STATUSES.join(' or ')}`,
        details: { field: 'status', allowed: MARKETPLACE_REQUEST_STATUSES },
      });
    }
    const requests = this.d.store.purchaseRequests;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await requests.findById(id);
      if (!current) {
        const created = await this.insert(id, input);
        if (!created) continue;
        if (created.status === 'cancelled') await this.cancelled(created, actor, true);
        return { kind: 'created', record: created };
      }
      const changes = await this.changesTo(current, input);
      if (Object.keys(changes).length === 0) {
        // A repeated cancel finishes what an interrupted one left undone; otherwise it changes nothing.
        if (current.status === 'cancelled') await this.cancelled(current, actor, false);
        return { kind: 'unchanged', record: current };
      }
      const updated = await requests.updateOne(
        { id, status: current.status, buyerId: current.buyerId, title: current.title, buyerWalletAddress: current.buyerWalletAddress },
        { $set: changes },
      );
      if (!updated) continue;
      await this.undoIfPaid(current, changes);
      if (changes.status === 'cancelled') await this.cancelled(updated, actor, true);
      return { kind: 'updated', record: updated };
    }
    throw fail('contention', { message: 'the purchase request is changing too often; try again' });
  }

  /** What `input` changes on `current`, or a refusal by the rules above. */
  private async changesTo(current: PurchaseRequestRecord, input: PurchaseRequestInput): Promise<Changes> {
    const changes: Changes = {};
    if (current.status === 'cancelled') {
      if (input.status !== 'cancelled') throw fail('purchase_request_cancelled', { message: 'the purchase request is cancelled; it cannot be re-opened' });
    } else if (input.status === 'cancelled') {
      if (FINISHED.includes(current.status)) {
        throw fail('purchase_request_finished', {
          message: `the purchase request is ${current.status}; it cannot be cancelled`,
          details: { status: current.status },
        });
      }
      changes.status = 'cancelled';
    }
    if (input.title !== current.title) changes.title = input.title;
    if (input.buyerId !== current.buyerId) changes.buyerId = input.buyerId;
    if (!sameAddress(input.buyerWalletAddress, current.buyerWalletAddress)) changes.buyerWalletAddress = input.buyerWalletAddress;
    const fixed = [
      ...(changes.buyerId !== undefined ? ['buyerId'] : []),
      ...(changes.buyerWalletAddress !== undefined && current.buyerWalletAddress !== null ? ['buyerWalletAddress'] : []),
    ];
    if (fixed.length > 0) {
      const payment = await this.d.store.payments.findOne({ purchaseRequestId: current.id });
      if (payment) {
        throw fail('purchase_request_in_use', {
          message: `${fixed.join(' and ')} cannot change: payment ${payment.id} of this purchase request exists`,
          details: { fields: fixed, paymentId: payment.id },
        });
      }
    }
    return changes;
  }

  /**
   * A payment created between the check in `changesTo` and the write, when the write changed the
   * buyer (or the refund wallet already set): everything the write changed is put back and the PUT
   * refused with 409 `purchase_request_in_use`.
   * Payment creation re-reads the request after its insert, so one of two racing sides sees the other.
   */
  private async undoIfPaid(before: PurchaseRequestRecord, changes: Changes): Promise<void> {
    const fixed = [
      ...(changes.buyerId !== undefined ? (['buyerId'] as const) : []),
      ...(changes.buyerWalletAddress !== undefined && before.buyerWalletAddress !== null ? (['buyerWalletAddress'] as const) : []),
    ];
    if (fixed.length === 0) return;
    const payment = await this.d.store.payments.findOne({ purchaseRequestId: before.id });
    if (!payment) return;
    // The whole PUT is refused: every field it wrote goes back (a cancel sent with it included).
    const written = Object.keys(changes) as (keyof Changes)[];
    await this.d.store.purchaseRequests.updateOne(
      { id: before.id, ...Object.fromEntries(written.map((f) => [f, changes[f]])) },
      { $set: Object.fromEntries(written.map((f) => [f, before[f]])) },
    );
    throw fail('purchase_request_in_use', {
      message: `${fixed.join(' and ')} cannot change: payment ${payment.id} of this purchase request was created meanwhile`,
      details: { fields: fixed, paymentId: payment.id },
    });
  }

  /** Inserts the new request; null when another PUT created it first (the caller reads it again). */
  private async insert(id: string, input: PurchaseRequestInput): Promise<PurchaseRequestRecord | null> {
    const now = this.d.clock.now();
    try {
      return await this.d.store.purchaseRequests.insertOne({ id, ...input, createdAt: now, updatedAt: now });
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
  }

  private async cancelled(request: PurchaseRequestRecord, actor: string, justNow: boolean): Promise<void> {
    await this.cancellation.apply(request, actor);
    if (justNow) this.cancellation.announce(request);
  }
}
