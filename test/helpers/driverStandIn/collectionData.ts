import mongoose from 'mongoose';
import { decode, encode, MAX_BSON_SIZE, type Doc } from './bsonCodec.js';
import { IndexCatalog } from './indexCatalog.js';
import { keyString } from './indexKeys.js';
import { serverError } from './serverErrors.js';

/**
 * What one collection holds: each document as BSON bytes (the stored truth, decoded afresh for
 * every reply so nothing handed out aliases it), a decoded "view" of each kept only for matching
 * and index keys (never returned), and the index catalog. Every method is synchronous, so one
 * operation never interleaves with another: each single-document write is atomic, as on a server.
 * Documents keep insertion order, which is what a server's natural order usually looks like.
 */

interface Stored {
  bytes: Uint8Array;
  view: Doc;
}

export class CollectionData {
  readonly indexes: IndexCatalog;
  private readonly docs = new Map<string, Stored>();

  constructor(readonly namespace: string) {
    this.indexes = new IndexCatalog(namespace);
  }

  get size(): number {
    return this.docs.size;
  }

  /** The matching views, in natural order. Read-only: callers must not change them. */
  views(): Doc[] {
    return [...this.docs.values()].map((s) => s.view);
  }

  entries(): [string, Doc][] {
    return [...this.docs.entries()].map(([id, s]) => [id, s.view]);
  }

  /** A fresh copy of a stored document, by its view. */
  copyOf(view: Doc): Doc {
    return decode(this.docs.get(idKeyOf(view))!.bytes);
  }

  /** Stores a new document; `_id` must already be set (first, as the server keeps it). */
  insert(doc: Doc): void {
    const bytes = sized(encode(doc));
    const view = decode(bytes);
    const id = idKeyOf(view);
    this.indexes.write(id, null, view);
    this.docs.set(id, { bytes, view });
  }

  /** Replaces a stored document with `next`; false when the bytes did not change (not modified). */
  replace(view: Doc, next: Doc): boolean {
    const id = idKeyOf(view);
    const stored = this.docs.get(id)!;
    if (keyString([next._id]) !== keyString([view._id])) {
      throw serverError('ImmutableField', "Performing an update on the path '_id' would modify the immutable field '_id'");
    }
    const bytes = sized(encode({ ...next, _id: view._id }));
    if (Buffer.from(bytes).equals(Buffer.from(stored.bytes))) return false;
    const nextView = decode(bytes);
    this.indexes.write(id, stored.view, nextView);
    this.docs.set(id, { bytes, view: nextView });
    return true;
  }

  remove(view: Doc): void {
    const id = idKeyOf(view);
    const stored = this.docs.get(id);
    if (!stored) return;
    this.indexes.write(id, stored.view, null);
    this.docs.delete(id);
  }

  clear(): void {
    for (const view of this.views()) this.remove(view);
  }
}

export function idKeyOf(doc: Doc): string {
  return keyString([doc._id]);
}

/** `_id` first, generated when absent, as the driver and server do. */
export function withId(doc: Doc): Doc {
  if (Array.isArray(doc._id)) throw serverError('BadValue', "can't use an array for _id");
  const { _id, ...rest } = doc;
  return { _id: _id === undefined ? new mongoose.mongo.ObjectId() : _id, ...rest };
}

function sized(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength > MAX_BSON_SIZE) {
    throw serverError('BSONObjectTooLarge', `object to insert too large. size in bytes: ${bytes.byteLength}, max size: ${MAX_BSON_SIZE}`);
  }
  return bytes;
}
