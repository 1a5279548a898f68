import { fail } from '../../platform/errors.js';
import type { Collection, Filter } from '../../core/store/store.js';

/** One page of a list: `hasMore` says whether a page follows (`starting_after` = the last id). */
export interface Page<T> {
  items: T[];
  hasMore: boolean;
}

/** The latest date JavaScript can hold: the first page's bound, newest first. */
const LATEST = new Date(8.64e15);
/** The earliest: the first page's bound, oldest first. */
const EARLIEST = new Date(-8.64e15);

/**
 * Cursor pagination, as Stripe's lists: by (createdAt, id), newest first (a log) or oldest first
 * (a work queue); `startingAfter` is the id of the last record of the previous page and must be a
 * record of this list (else 400 `cursor_not_found`). Records added meanwhile never shift a page:
 * the cursor is a position, not an offset. createdAt is always bounded, so an index on
 * (…, createdAt, _id) serves every page, the first included.
 */
export async function pageAfter<T extends { id: string; createdAt: Date }>(
  collection: Collection<T>,
  filter: Filter,
  startingAfter: string | undefined,
  limit: number,
  order: 'newest' | 'oldest' = 'newest',
): Promise<Page<T>> {
  const newest = order === 'newest';
  let where: Filter = { ...filter, createdAt: newest ? { $lte: LATEST } : { $gte: EARLIEST } };
  if (startingAfter !== undefined) {
    const cursor = await collection.findOne({ ...filter, id: startingAfter });
    if (!cursor) throw fail('cursor_not_found');
    const [past, strictly] = newest ? (['$lte', '$lt'] as const) : (['$gte', '$gt'] as const);
    where = {
      ...filter,
      $and: [{ createdAt: { [past]: cursor.createdAt } }, { $or: [{ createdAt: { [strictly]: cursor.createdAt } }, { id: { [strictly]: cursor.id } }] }],
    };
  }
  const dir = newest ? -1 : 1;
  const rows = await collection.find(where, { sort: { createdAt: dir, id: dir }, limit: limit + 1 });
  return { items: rows.slice(0, limit), hasMore: rows.length > limit };
}
