import type { Doc } from './bsonCodec.js';

/**
 * Every query a stand-in collection receives, in order, as the server would have seen it (after
 * the BSON round trip), so tests can assert which query shapes a service sends: which fields it
 * filters and sorts on, and whether it set a time limit. Inserts and index builds are not queries
 * and are not logged.
 */
export interface QueryRecord {
  op: string;
  collection: string;
  filter?: Doc;
  sort?: Record<string, 1 | -1>;
  skip?: number;
  limit?: number;
  projection?: Doc;
  pipeline?: Doc[];
  /** The update document, for update operations. */
  update?: Doc;
  maxTimeMS?: number;
}

export class QueryLog {
  readonly records: QueryRecord[] = [];

  add(record: QueryRecord): void {
    // Fields left undefined are dropped so records compare cleanly with toEqual / toMatchObject.
    this.records.push(Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as QueryRecord);
  }

  clear(): void {
    this.records.length = 0;
  }
}
