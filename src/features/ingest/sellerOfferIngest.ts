import type { Clock } from '../../platform/clock.js';
import { fail, isDuplicateKey } from '../../platform/errors.js';
import { compareDecimals } from '../../platform/money.js';
import { to, type PaymentEvents } from '../../core/events/paymentEvents.js';
import type { SellerOfferRecord, SellerOfferStatus } from '../../core/store/records.js';
import { offerHolders } from '../../core/payments/transitions.js';
import type { Store } from '../../core/store/store.js';
import { MAX_ATTEMPTS, sameAddress, type Upserted } from './ingestRecords.js';
import { MARKETPLACE_OFFER_STATUSES, type SellerOfferInput } from './ingestSchemas.js';

/** The fields that say who is paid what: fixed while a payment holds the offer. */
const MONEY_FIELDS = ['purchaseRequestId', 'sellerId', 'amount', 'currency', 'walletAddress'] as const;
type MoneyField = (typeof MONEY_FIELDS)[number];
type Changes = Partial<Pick<SellerOfferRecord, MoneyField | 'status'>>;

/**
 * `PUT /seller-offers/:id`: the marketplace's seller offers, upserted by id.
 *
 * Rules (each refusal changes nothing):
 * - the purchase request must exist (404 `purchase_request_not_found`);
 * - `status` may be `pending` or `rejected` only (400 `status_not_settable`): `accepted` is set by
 *   the service when an escrow is funded, and `pending` on an accepted offer keeps `accepted`;
 * - while a live payment holds the offer (`liveOfferKey` = the offer id) or it is accepted, its money
 *   fields (amount, currency, walletAddress, sellerId, purchaseRequestId) cannot change and it
 *   cannot be rejected → 409 `offer_in_use`: nobody changes the price or the release wallet under
 *   a funded escrow.
 *
 * Writes are conditional on the fields just read, so two racing PUTs are decided one after the
 * other. Throws 503 `contention` when the record keeps changing. A payment created between the
 * hold check and the write is found right after it, and the write is taken back (`undoIfTaken`).
 */
export class SellerOfferIngest {
  constructor(private readonly d: { store: Store; clock: Clock; events: PaymentEvents }) {}

  async upsert(id: string, input: SellerOfferInput): Promise<Upserted<SellerOfferRecord>> {
    if (!(MARKETPLACE_OFFER_STATUSES as readonly string[]).includes(input.status)) {
      throw fail('status_not_settable', {
        message: `status ${input.status} is set by the payment service; the marketplace sets ${MARKETPLACE_OFFER_STATUSES.join(' or ')}`,
        details: { field: 'status', allowed: MARKETPLACE_OFFER_STATUSES },
      });
    }
    const { store } = this.d;
    if (!(await store.purchaseRequests.findById(input.purchaseRequestId))) throw fail('purchase_request_not_found');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await store.sellerOffers.findById(id);
      if (!current) {
        const created = await this.insert(id, input);
        if (!created) continue;
        this.announce(created);
        return { kind: 'created', record: created };
      }
      const changes = await this.changesTo(current, input);
      if (Object.keys(changes).length === 0) return { kind: 'unchanged', record: current };
      const read = { id, status: current.status, ...Object.fromEntries(MONEY_FIELDS.map((f) => [f, current[f]])) };
      const updated = await store.sellerOffers.updateOne(read, { $set: changes });
      if (!updated) continue;
      await this.undoIfTaken(current, changes);
      if (changes.status !== undefined) this.announce(updated);
      return { kind: 'updated', record: updated };
    }
    throw fail('contention', { message: 'the seller offer is changing too often; try again' });
  }

  /** What `input` changes on `current`, or 409 `offer_in_use` when a payment holds it. */
  private async changesTo(current: SellerOfferRecord, input: SellerOfferInput): Promise<Changes> {
    const changes: Changes = {};
    const status: SellerOfferStatus = current.status === 'accepted' && input.status === 'pending' ? 'accepted' : input.status;
    if (status !== current.status) changes.status = status;
    if (input.purchaseRequestId !== current.purchaseRequestId) changes.purchaseRequestId = input.purchaseRequestId;
    if (input.sellerId !== current.sellerId) changes.sellerId = input.sellerId;
    if (compareDecimals(input.amount, current.amount) !== 0) changes.amount = input.amount;
    if (input.currency !== current.currency) changes.currency = input.currency;
    if (!sameAddress(input.walletAddress, current.walletAddress)) changes.walletAddress = input.walletAddress;
    const touched = [...MONEY_FIELDS.filter((f) => f in changes), ...(changes.status === 'rejected' ? ['status'] : [])];
    if (touched.length === 0) return changes;
    const holder = current.status === 'accepted' ? null : await this.liveHolder(current.id);
    if (current.status === 'accepted' || holder) throw inUse(touched, current.status, holder);
    return changes;
  }

  /**
   * A payment created between the hold check and the write (it checked the offer before this
   * write): the change is taken back and refused with 409 `offer_in_use`. Payment creation reads
   * the offer again after its own insert, so of the two racing sides at least one sees the other;
   * both may back off, neither can leave a payment bound to a price the offer no longer has.
   */
  private async undoIfTaken(before: SellerOfferRecord, changes: Changes): Promise<void> {
    const touched = MONEY_FIELDS.filter((f) => f in changes);
    if (touched.length === 0 && changes.status !== 'rejected') return;
    const holder = await this.liveHolder(before.id);
    if (!holder) return;
    const fields = [...touched, ...(changes.status !== undefined ? (['status'] as const) : [])];
    await this.d.store.sellerOffers.updateOne(
      { id: before.id, ...Object.fromEntries(fields.map((f) => [f, changes[f]])) },
      { $set: Object.fromEntries(fields.map((f) => [f, before[f]])) },
    );
    throw inUse([...touched, ...(changes.status === 'rejected' ? ['status'] : [])], before.status, holder);
  }

  /** The id of a payment holding the offer (`offerHolders`: a Web3 payment too, once its transfer was seen), if any. */
  private async liveHolder(offerId: string): Promise<string | null> {
    return (await this.d.store.payments.findOne(offerHolders(offerId)))?.id ?? null;
  }

  private async insert(id: string, input: SellerOfferInput): Promise<SellerOfferRecord | null> {
    const now = this.d.clock.now();
    try {
      return await this.d.store.sellerOffers.insertOne({ id, ...input, createdAt: now, updatedAt: now });
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
  }

  private announce(o: SellerOfferRecord): void {
    this.d.events.emit([to.seller(o.sellerId), to.request(o.purchaseRequestId)], 'seller-offer-update', {
      sellerOfferId: o.id,
      purchaseRequestId: o.purchaseRequestId,
      status: o.status,
    });
  }
}

function inUse(fields: string[], status: SellerOfferStatus, paymentId: string | null) {
  const why = paymentId ? `payment ${paymentId} holds this offer` : 'the offer is accepted (its escrow was funded)';
  return fail('offer_in_use', { message: `${fields.join(', ')} cannot change: ${why}`, details: { fields, status, paymentId } });
}
