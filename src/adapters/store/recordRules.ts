import type { Schema, SchemaType } from 'mongoose';
import { fail } from '../../platform/errors.js';
import { isObjectId } from '../../platform/ids.js';
import { isStorableKey, isWellFormedText } from '../../platform/text.js';
import type { CollectionName } from './indexPlan.js';
import { SCHEMAS } from './mongoModels.js';
import type { Update } from '../../core/store/store.js';

/**
 * One normalisation and validation step, applied by both stores before any write, so both accept
 * and refuse exactly the same documents. The rules are read from the Mongoose schemas (the one
 * definition of a record's shape), and match what Mongoose enforces with `strict: 'throw'` and
 * `runValidators` (source: Mongoose docs, "Validation" and "Update Validators"), minus casting:
 * - a path the schema does not know is refused (inside `Mixed` fields anything goes);
 * - a required field that is absent, `null` or `''` is refused (Mongoose's required check);
 * - a value outside an `enum`, or of the wrong type (no casting: `5` is not a string), is refused;
 * - an absent field takes its schema default on insert;
 * - `undefined` is dropped: a key set to `undefined` is absent (in `$set`, no change), as with
 *   BSON's `ignoreUndefined`; inside an array it becomes `null`, as JSON has it;
 * - text MongoDB would not keep as sent (a lone surrogate; NUL or `_bsontype` as a key) is refused;
 * - `id` must be a 24-hex ObjectId string.
 * A refusal is `AppError('internal', code 'record_invalid')` naming the collection and path: the
 * services validate input at the edge, so reaching this is a programming error, answered 500 in
 * both stores alike rather than stored silently in one and refused in the other.
 */

type Rule =
  | { kind: 'string' | 'number' | 'date' | 'boolean' | 'mixed' | 'objectId'; required: boolean; enum?: readonly unknown[]; default?: () => unknown }
  | { kind: 'array'; element: Rule; required: boolean; default?: () => unknown }
  | { kind: 'object'; fields: Fields; required: boolean; nullable: boolean; default?: () => unknown };
type Fields = Map<string, Rule>;

function defaultOf(st: SchemaType): (() => unknown) | undefined {
  const d = (st as unknown as { options: { default?: unknown } }).options.default;
  if (d === undefined) return undefined;
  return typeof d === 'function' ? () => (d as () => unknown)() : () => structuredClone(d);
}

function ruleOf(st: SchemaType): Rule {
  const s = st as unknown as {
    instance: string;
    isRequired?: boolean;
    options: { enum?: readonly unknown[] };
    schema?: Schema;
    $isSingleNested?: boolean;
    $isMongooseDocumentArray?: boolean;
    embeddedSchemaType?: SchemaType;
  };
  const required = s.isRequired === true;
  const dflt = defaultOf(st);
  switch (s.instance) {
    case 'String':
    case 'Number':
    case 'Date':
    case 'Boolean':
    case 'Mixed':
    case 'ObjectId':
      return {
        kind: (s.instance === 'ObjectId' ? 'objectId' : s.instance.toLowerCase()) as 'string',
        required,
        ...(s.options.enum ? { enum: s.options.enum } : {}),
        ...(dflt ? { default: dflt } : {}),
      };
    case 'Embedded':
      return { kind: 'object', fields: fieldsOf(s.schema!), required, nullable: true, ...(dflt ? { default: dflt } : {}) };
    case 'Array': {
      const element: Rule = s.$isMongooseDocumentArray
        ? { kind: 'object', fields: fieldsOf(s.schema!), required: true, nullable: false }
        : ruleOf(s.embeddedSchemaType!);
      return { kind: 'array', element, required, default: dflt ?? (() => []) };
    }
    default:
      throw new Error(`recordRules: schema type ${s.instance} is not handled`);
  }
}

/** The schema's paths as a tree: `amount.amount` becomes field `amount` holding field `amount`. */
function fieldsOf(schema: Schema): Fields {
  const root: Fields = new Map();
  schema.eachPath((path, st) => {
    const parts = path.split('.');
    let fields = root;
    for (const part of parts.slice(0, -1)) {
      let nested = fields.get(part);
      if (!nested) {
        nested = { kind: 'object', fields: new Map(), required: true, nullable: false };
        fields.set(part, nested);
      }
      fields = (nested as { fields: Fields }).fields;
    }
    fields.set(parts.at(-1)!, ruleOf(st));
  });
  return root;
}

const RULES = Object.fromEntries(Object.entries(SCHEMAS).map(([name, schema]) => [name, fieldsOf(schema)])) as Record<CollectionName, Fields>;

function refuse(collection: CollectionName, path: string, why: string): never {
  throw fail('record_invalid', { message: `${collection} record refused: ${path} ${why}`, details: { collection, path, why } });
}

/**
 * A Mixed value as it will be stored: `undefined` dropped from objects, `null` in arrays; Dates
 * and other values kept. Refused (null returned with the path): a key MongoDB cannot store (NUL,
 * `_bsontype`, which the driver would read as a BSON value) or text that is not well-formed
 * UTF-16 (MongoDB would store U+FFFD in its place; src/common/text.ts).
 */
function storableMixed(c: CollectionName, path: string, v: unknown): unknown {
  if (typeof v === 'string') {
    if (!isWellFormedText(v)) refuse(c, path, 'holds a lone UTF-16 surrogate');
    return v;
  }
  if (typeof v === 'function' || typeof v === 'symbol') refuse(c, path, `is a ${typeof v}, not data`);
  if (Array.isArray(v)) return plainArray(v, (x, i) => (x === undefined ? null : storableMixed(c, `${path}.${i}`, x)));
  const proto: unknown = v && typeof v === 'object' ? Object.getPrototypeOf(v) : undefined;
  if (v && typeof v === 'object' && !(v instanceof Date) && (proto === Object.prototype || proto === null)) {
    // Copied into a plain object, getters read once: what is stored is data, not the caller's object.
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (!isStorableKey(k) || k === '_bsontype') refuse(c, `${path}.${k.slice(0, 64)}`, 'is a key MongoDB cannot store');
      // Assigned, it would set the copy's prototype instead of a field.
      if (k === '__proto__') refuse(c, `${path}.${k}`, 'is a key the store refuses');
      if (x !== undefined) out[k] = storableMixed(c, `${path}.${k}`, x);
    }
    return out;
  }
  return v;
}

/**
 * A plain Array of `f` over `v`'s elements, read by index: `map` on an Array subclass builds
 * another instance of it (Symbol.species), and a subclass's own iterator may yield anything.
 */
function plainArray(v: readonly unknown[], f: (x: unknown, i: number) => unknown): unknown[] {
  const out = new Array<unknown>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = f(v[i], i);
  return out;
}

function check(c: CollectionName, path: string, rule: Rule, value: unknown, fill: boolean): unknown {
  if (value === undefined && fill && rule.default) value = rule.default();
  if (value === undefined || value === null || value === '') {
    if (rule.required) refuse(c, path, 'is required');
    if (value === '' && rule.kind !== 'string' && rule.kind !== 'mixed') refuse(c, path, `must be a ${rule.kind}`);
    return value === undefined ? undefined : value;
  }
  switch (rule.kind) {
    case 'string':
    case 'number':
    case 'boolean':
      if (typeof value !== rule.kind || (rule.kind === 'number' && !Number.isFinite(value))) refuse(c, path, `must be a ${rule.kind}`);
      if (typeof value === 'string' && !isWellFormedText(value)) refuse(c, path, 'holds a lone UTF-16 surrogate');
      if (rule.enum && !rule.enum.includes(value)) refuse(c, path, `is not one of ${rule.enum.join(', ')}`);
      return value;
    case 'date':
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) refuse(c, path, 'must be a valid Date');
      return value;
    case 'objectId':
      if (!isObjectId(value)) refuse(c, path, 'must be a 24-hex ObjectId string');
      return value;
    case 'mixed':
      return storableMixed(c, path, value);
    case 'array':
      if (!Array.isArray(value)) refuse(c, path, 'must be an array');
      return plainArray(value, (x, i) => check(c, `${path}.${i}`, rule.element, x === undefined ? null : x, fill));
    case 'object':
      if (typeof value !== 'object' || Array.isArray(value) || value instanceof Date) refuse(c, path, 'must be an object');
      return checkFields(c, `${path}.`, rule.fields, value as Record<string, unknown>, fill);
  }
}

function checkFields(c: CollectionName, prefix: string, fields: Fields, doc: Record<string, unknown>, fill: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(doc)) {
    if (doc[key] !== undefined && !fields.has(key)) refuse(c, `${prefix}${key}`, 'is not in the schema');
  }
  for (const [key, rule] of fields) {
    const v = check(c, `${prefix}${key}`, rule, doc[key], fill);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * A whole record as it will be stored: defaults filled, `undefined` dropped, every rule checked.
 * `id` is checked here; `_id` never appears (the MongoDB adapter maps it).
 */
export function normaliseRecord<T extends { id: string }>(collection: CollectionName, doc: T): T {
  if (!isObjectId(doc.id)) refuse(collection, 'id', 'must be a 24-hex ObjectId string');
  const { id, ...rest } = doc as T & Record<string, unknown>;
  return { id, ...checkFields(collection, '', recordFields(collection), rest, true) } as T;
}

const RECORD_FIELDS = new Map<CollectionName, Fields>();

/** A collection's rules without `_id` (the record's `id` is checked apart), built once per collection. */
function recordFields(collection: CollectionName): Fields {
  let fields = RECORD_FIELDS.get(collection);
  if (!fields) {
    fields = new Map(RULES[collection]);
    fields.delete('_id');
    RECORD_FIELDS.set(collection, fields);
  }
  return fields;
}

/** The rule for a dotted path, or `mixed` when the path runs inside a Mixed field; null when unknown. */
function ruleAt(collection: CollectionName, path: string): Rule | null {
  let fields: Fields = RULES[collection];
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    let rule = fields.get(parts[i]!);
    if (!rule) return null;
    if (i === parts.length - 1) return rule;
    if (rule.kind === 'mixed') return { kind: 'mixed', required: false };
    if (rule.kind === 'array' && /^\d+$/.test(parts[i + 1]!)) {
      i++;
      rule = rule.element;
      if (i === parts.length - 1) return rule;
    }
    if (rule.kind !== 'object') return null;
    fields = rule.fields;
  }
  return null;
}

/**
 * An update as it will be sent: every path known to the schema, every value valid for its path
 * (`$push` values as array elements, `$inc` on numbers, no `$unset` of a required field), and
 * `$set` keys whose value is `undefined` dropped (no change). Returns a new update document.
 */
export function normaliseUpdate(collection: CollectionName, update: Update): Update {
  const out: Update = {};
  for (const [op, fields] of Object.entries(update) as [keyof Update, Record<string, unknown> | undefined][]) {
    if (!fields) continue;
    const next: Record<string, unknown> = {};
    for (const [path, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      // A path through `__proto__` would reach Object.prototype, not a field (parentFor walks own fields only).
      if (path.split('.').includes('__proto__')) refuse(collection, path, 'names __proto__, which the store refuses');
      const rule = ruleAt(collection, path);
      if (!rule) refuse(collection, path, 'is not in the schema');
      switch (op) {
        case '$set':
          next[path] = check(collection, path, rule, value, true);
          break;
        case '$unset':
          if (rule.required) refuse(collection, path, 'is required and cannot be unset');
          next[path] = '';
          break;
        case '$push':
        case '$pull': {
          if (rule.kind !== 'array' && rule.kind !== 'mixed') refuse(collection, path, `is not an array (${op})`);
          const element = rule.kind === 'array' ? rule.element : rule;
          const each = value && typeof value === 'object' && '$each' in value ? (value as { $each: unknown[] }).$each : null;
          next[path] = each
            ? { $each: each.map((x, i) => check(collection, `${path}.${i}`, element, x, true)) }
            : check(collection, path, element, value, true);
          break;
        }
        case '$inc':
          if ((rule.kind !== 'number' && rule.kind !== 'mixed') || typeof value !== 'number' || !Number.isFinite(value))
            refuse(collection, path, 'must be a number ($inc)');
          next[path] = value;
          break;
        default:
          refuse(collection, path, `uses ${String(op)}, which the store does not support`);
      }
    }
    if (Object.keys(next).length > 0) (out as Record<string, unknown>)[op] = next;
  }
  return out;
}
