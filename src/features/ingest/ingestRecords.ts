/** Helpers both ingest services share. */

/** What an upsert did: the route answers 201 for `created`, 200 otherwise, with the record as stored. */
export interface Upserted<T> {
  kind: 'created' | 'updated' | 'unchanged';
  record: T;
}

/** Conditional writes that lost a race are re-read and decided again, this many times at most. */
export const MAX_ATTEMPTS = 5;

/** Two optional EVM addresses name the same wallet (checksum case aside). */
export function sameAddress(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return a.toLowerCase() === b.toLowerCase();
}
