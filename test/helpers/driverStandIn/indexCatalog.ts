import { isDeepStrictEqual } from 'node:util';
import type { Doc } from './bsonCodec.js';
import { allFieldsMissing, EMPTY_ARRAY_KEY, keyString, keyTuples, showDoc } from './indexKeys.js';
import { matches } from './matcher.js';
import { serverError, StandInUsageError } from './serverErrors.js';

/**
 * The indexes of one collection: their catalog entries, shaped as `listIndexes` returns them on
 * a server, and for each unique index the map from key to owning document, which is what makes
 * a duplicate fail. `_id_` is always there and is unique like any other unique index.
 *
 * TTL indexes (`expireAfterSeconds`) are recorded and listed but nothing is ever deleted: there
 * is no background monitor here, so a test must not expect documents to expire.
 */

export interface IndexSpec {
  v: 2;
  key: Record<string, number | string>;
  name: string;
  unique?: true;
  sparse?: true;
  partialFilterExpression?: Doc;
  expireAfterSeconds?: number;
  hidden?: true;
}

/** Options that are part of what an index is; others (background, maxTimeMS, ...) are ignored. */
const IDENTITY_OPTIONS = ['unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds', 'hidden'] as const;

export function defaultIndexName(key: Record<string, unknown>): string {
  return Object.entries(key)
    .map(([field, dir]) => `${field}_${String(dir)}`)
    .join('_');
}

export function buildSpec(key: Record<string, number | string>, options: Doc = {}): IndexSpec {
  if (Object.keys(key).length === 0) throw serverError('BadValue', 'Index keys cannot be empty.');
  const collation = options.collation as { locale?: string } | undefined;
  if (collation && collation.locale !== 'simple') {
    throw new StandInUsageError(`stand-in: index collation ${JSON.stringify(collation)} is not emulated`);
  }
  const spec: IndexSpec = { v: 2, key: { ...key }, name: (options.name as string | undefined) ?? defaultIndexName(key) };
  if (options.unique === true) spec.unique = true;
  if (options.sparse === true) spec.sparse = true;
  if (options.partialFilterExpression) spec.partialFilterExpression = options.partialFilterExpression as Doc;
  if (typeof options.expireAfterSeconds === 'number') spec.expireAfterSeconds = options.expireAfterSeconds;
  if (options.hidden === true) spec.hidden = true;
  return spec;
}

function sameOptions(a: IndexSpec, b: IndexSpec): boolean {
  return IDENTITY_OPTIONS.every((o) => isDeepStrictEqual(a[o], b[o]));
}

function sameKey(a: IndexSpec, b: IndexSpec): boolean {
  return isDeepStrictEqual(Object.entries(a.key), Object.entries(b.key));
}

interface UniqueState {
  spec: IndexSpec;
  /** key string → the key string of the owning document's _id */
  owners: Map<string, string>;
}

export class IndexCatalog {
  private readonly specs = new Map<string, IndexSpec>();
  private readonly uniques = new Map<string, UniqueState>();

  constructor(private readonly namespace: string) {
    this.specs.set('_id_', { v: 2, key: { _id: 1 }, name: '_id_' });
    this.uniques.set('_id_', { spec: this.specs.get('_id_')!, owners: new Map() });
  }

  list(): IndexSpec[] {
    return [...this.specs.values()].map((s) => structuredClone(s));
  }

  has(name: string): boolean {
    return this.specs.has(name);
  }

  /**
   * Adds an index, or does nothing when an identical one exists. Conflicts are answered as a
   * server does: same name and other keys → 86, same name or same keys with other options → 85;
   * a unique index over data that already repeats a key → 11000 and no index.
   */
  create(spec: IndexSpec, docs: Iterable<[string, Doc]>): void {
    const byName = this.specs.get(spec.name);
    if (byName) {
      if (!sameKey(byName, spec)) {
        throw serverError(
          'IndexKeySpecsConflict',
          `An existing index has the same name as the requested index. Requested index: ${showDoc(spec as unknown as Doc)}, existing index: ${showDoc(byName as unknown as Doc)}`,
        );
      }
      if (!sameOptions(byName, spec)) {
        throw serverError(
          'IndexOptionsConflict',
          `An existing index has the same name as the requested index. Requested index: ${showDoc(spec as unknown as Doc)}, existing index: ${showDoc(byName as unknown as Doc)}`,
        );
      }
      return;
    }
    for (const other of this.specs.values()) {
      if (sameKey(other, spec) && isDeepStrictEqual(other.partialFilterExpression, spec.partialFilterExpression)) {
        const what = sameOptions(other, spec)
          ? 'Index already exists with a different name'
          : 'An equivalent index already exists with a different name and options';
        throw serverError('IndexOptionsConflict', `${what}: ${other.name}`);
      }
    }
    if (spec.unique) {
      const state: UniqueState = { spec, owners: new Map() };
      for (const [id, doc] of docs) this.claim(state, id, doc);
      this.uniques.set(spec.name, state);
    }
    this.specs.set(spec.name, spec);
  }

  drop(name: string): void {
    if (name === '_id_') throw serverError('InvalidOptions', 'cannot drop _id index');
    if (!this.specs.delete(name)) throw serverError('IndexNotFound', `index not found with name [${name}]`);
    this.uniques.delete(name);
  }

  dropAllButId(): void {
    for (const name of [...this.specs.keys()]) if (name !== '_id_') this.drop(name);
  }

  /**
   * Checks that `after` (the document with id key `id`, or none when deleted) takes no key owned
   * by another document, then moves this document's keys from `before` to `after`. Nothing
   * changes when it throws.
   */
  write(id: string, before: Doc | null, after: Doc | null): void {
    const planned = [...this.uniques.values()].map((state) => ({ state, keys: after ? this.keysOf(state.spec, after) : [] }));
    for (const { state, keys } of planned) {
      for (const { key, tuple } of keys) {
        const owner = state.owners.get(key);
        // On insert any owner is another document, even one with this _id (the `_id_` index).
        if (owner !== undefined && (before === null || owner !== id)) throw this.duplicate(state.spec, tuple);
      }
    }
    for (const { state, keys } of planned) {
      if (before) for (const { key } of this.keysOf(state.spec, before)) if (state.owners.get(key) === id) state.owners.delete(key);
      for (const { key } of keys) state.owners.set(key, id);
    }
  }

  private claim(state: UniqueState, id: string, doc: Doc): void {
    for (const { key, tuple } of this.keysOf(state.spec, doc)) {
      const owner = state.owners.get(key);
      if (owner !== undefined && owner !== id) throw this.duplicate(state.spec, tuple);
      state.owners.set(key, id);
    }
  }

  private keysOf(spec: IndexSpec, doc: Doc): { key: string; tuple: unknown[] }[] {
    if (spec.partialFilterExpression && !matches(spec.partialFilterExpression, doc)) return [];
    if (spec.sparse && allFieldsMissing(doc, spec.key)) return [];
    return keyTuples(doc, spec.key).map((tuple) => ({ key: keyString(tuple), tuple }));
  }

  private duplicate(spec: IndexSpec, tuple: unknown[]) {
    const fields = Object.keys(spec.key);
    const keyValue = Object.fromEntries(fields.map((f, i) => [f, tuple[i] === EMPTY_ARRAY_KEY ? undefined : tuple[i]]));
    return serverError('DuplicateKey', `E11000 duplicate key error collection: ${this.namespace} index: ${spec.name} dup key: ${showDoc(keyValue)}`, {
      keyPattern: { ...spec.key },
      keyValue,
    });
  }
}
