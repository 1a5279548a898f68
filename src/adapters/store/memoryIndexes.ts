import type { Filter } from '../../core/store/store.js';

/**
 * Hash indexes for the in-process store: for each indexed field, string value → ids of the
 * records holding it (each element of an array, as a MongoDB multikey index). The fields are the
 * leading fields of src/store/indexPlan.ts, so a query MongoDB answers from an index is answered
 * here from one too, and costs what its result costs rather than what the collection holds.
 *
 * Only strings are indexed: every indexed field is an id, a hash, a key or an enum. A query on
 * anything else scans, which is still correct: `candidates` only narrows, the full filter is
 * always evaluated on what it returns.
 */
export class HashIndexes {
  private readonly byField = new Map<string, Map<string, Set<string>>>();

  constructor(fields: Iterable<string>) {
    for (const f of fields) this.byField.set(f, new Map());
  }

  /** The ids holding `value` in `field` (a live set: copy before changing the store). */
  lookup(field: string, value: string): ReadonlySet<string> | undefined {
    return this.byField.get(field)?.get(value);
  }

  add(id: string, doc: unknown): void {
    for (const [field, index] of this.byField) enter(index, id, stringValues(doc, field));
  }

  /**
   * `before` replaced by `after` under the same id: the same end state as `remove` then `add`, but
   * a field whose values did not change is left alone. Most updates touch a few fields of a record
   * indexed on many (a payment: ten), and the sets of a common value (every `queued` job, every
   * `completed` payment) are the large ones, so this spares most of an update's index work.
   */
  replace(id: string, before: unknown, after: unknown): void {
    for (const [field, index] of this.byField) {
      const was = stringValues(before, field);
      const is = stringValues(after, field);
      if (was.length === is.length && was.every((v, i) => v === is[i])) continue;
      leave(index, id, was);
      enter(index, id, is);
    }
  }

  remove(id: string, doc: unknown): void {
    for (const [field, index] of this.byField) leave(index, id, stringValues(doc, field));
  }

  /**
   * The smallest set of ids that certainly contains every record `filter` matches, or null when
   * no index narrows it (the caller scans). Understood: `id` and indexed fields compared by
   * equality, `$eq`, `$in` of strings or `$type: 'string'`; `$and` (any branch narrows) and
   * `$or` (every branch must narrow; the union). Each way is costed by the sizes of the sets it
   * would read before any is built, so a wide one (`status` in every status) costs nothing when
   * a narrow one (the user's own payments) is there.
   */
  candidates(filter: Filter): ReadonlySet<string> | null {
    return this.plan(filter)?.ids() ?? null;
  }

  private plan(filter: Filter): Plan | null {
    let best: Plan | null = null;
    const consider = (p: Plan | null) => {
      if (p && (!best || p.size < best.size)) best = p;
    };
    for (const [key, cond] of Object.entries(filter)) {
      if (key === '$and') for (const branch of cond as Filter[]) consider(this.plan(branch));
      else if (key === '$or') consider(this.unionPlan(cond as Filter[]));
      else if (key === 'id') consider(idPlan(cond));
      else if (this.byField.has(key)) consider(this.fieldPlan(key, cond));
    }
    return best;
  }

  private unionPlan(branches: Filter[]): Plan | null {
    const plans = branches.map((b) => this.plan(b));
    if (plans.some((p) => p === null)) return null;
    if (plans.length === 1) return plans[0]!;
    return { size: plans.reduce((n, p) => n + p!.size, 0), ids: () => union(plans.map((p) => p!.ids())) };
  }

  private fieldPlan(field: string, cond: unknown): Plan | null {
    const index = this.byField.get(field)!;
    const values = equalityValues(cond);
    if (values) {
      const sets = values.map((v) => index.get(v) ?? EMPTY);
      return { size: sets.reduce((n, ids) => n + ids.size, 0), ids: () => (sets.length === 1 ? sets[0]! : union(sets)) };
    }
    if (isTypeString(cond)) {
      let size = 0;
      for (const ids of index.values()) size += ids.size;
      return { size, ids: () => union(index.values()) };
    }
    return null;
  }
}

/** `id` joins the set of each of `values` in one field's index. */
function enter(index: Map<string, Set<string>>, id: string, values: readonly string[]): void {
  for (const v of values) {
    let ids = index.get(v);
    if (!ids) index.set(v, (ids = new Set()));
    ids.add(id);
  }
}

/** `id` leaves the set of each of `values`; a set left empty is dropped, so a value no record holds costs nothing. */
function leave(index: Map<string, Set<string>>, id: string, values: readonly string[]): void {
  for (const v of values) {
    const ids = index.get(v);
    ids?.delete(id);
    if (ids?.size === 0) index.delete(v);
  }
}

/** A way to narrow a query: how many ids it yields (an upper bound), and the ids, built on demand. */
interface Plan {
  size: number;
  ids(): ReadonlySet<string>;
}

function union(sets: Iterable<ReadonlySet<string>>): ReadonlySet<string> {
  const out = new Set<string>();
  for (const s of sets) for (const id of s) out.add(id);
  return out;
}

function idPlan(cond: unknown): Plan | null {
  const values = equalityValues(cond);
  return values ? { size: values.length, ids: () => new Set(values) } : null;
}

const EMPTY: ReadonlySet<string> = new Set();

/** The strings a condition accepts by equality (`v`, `{$eq: v}`, `{$in: [...]}`), or null. */
function equalityValues(cond: unknown): string[] | null {
  if (typeof cond === 'string') return [cond];
  if (!cond || typeof cond !== 'object' || Array.isArray(cond) || cond instanceof Date) return null;
  const c = cond as Record<string, unknown>;
  if (typeof c.$eq === 'string') return [c.$eq];
  if (Array.isArray(c.$in) && c.$in.every((v) => typeof v === 'string')) return c.$in as string[];
  return null;
}

function isTypeString(cond: unknown): boolean {
  return !!cond && typeof cond === 'object' && (cond as Record<string, unknown>).$type === 'string';
}

/**
 * The string values a record holds at a dotted path: the string, or each string of an array,
 * stepping through arrays of sub-documents on the way as MongoDB does (`e.s` of
 * `{ e: [{ s: 'a' }, { s: 'b' }] }` is both 'a' and 'b'), so a multikey path is indexed as the
 * query engine reads it.
 */
export function stringValues(doc: unknown, path: string): string[] {
  const parts = pathParts(path);
  // The common case, walked without a closure or a set: no arrays on the way, one string or none.
  let cur: unknown = doc;
  let i = 0;
  for (; i < parts.length && cur !== null && typeof cur === 'object' && !Array.isArray(cur); i++) cur = (cur as Record<string, unknown>)[parts[i]!];
  if (i === parts.length && !Array.isArray(cur)) return typeof cur === 'string' ? [cur] : NONE;
  if (!Array.isArray(cur)) return NONE;
  const out = new Set<string>();
  const walk = (at: unknown, j: number): void => {
    if (j === parts.length) {
      if (typeof at === 'string') out.add(at);
      else if (Array.isArray(at)) for (const x of at) if (typeof x === 'string') out.add(x);
      return;
    }
    if (Array.isArray(at)) {
      for (const el of at) if (el !== null && typeof el === 'object' && !Array.isArray(el)) walk(el, j);
      return;
    }
    if (at === null || typeof at !== 'object') return;
    walk((at as Record<string, unknown>)[parts[j]!], j + 1);
  };
  walk(cur, i);
  return [...out];
}

const NONE: string[] = [];
Object.freeze(NONE);
const PARTS = new Map<string, readonly string[]>();

/** A dotted path's parts, split once per path (index paths are few and fixed). */
function pathParts(path: string): readonly string[] {
  let parts = PARTS.get(path);
  if (!parts) PARTS.set(path, (parts = Object.freeze(path.split('.'))));
  return parts;
}
