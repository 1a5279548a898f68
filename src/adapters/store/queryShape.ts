/**
 * The shape of a MongoDB filter: its structure with every value replaced by what kind of
 * condition it is, so `{ buyerId: 'a', status: { $in: [...] } }` and `{ buyerId: 'b', status:
 * { $in: [...] } }` are one shape, `{"buyerId":"=","status":{"$in":"…"}}`. Keys are sorted.
 * Used to list the queries the services send (src/store/queryShapes.ts) and to check, in the
 * driver test tier, that every query sent is on that list.
 */
export function shapeOf(filter: Record<string, unknown>): string {
  return JSON.stringify(shapeValue(filter, true));
}

function shapeValue(v: unknown, isFilter: boolean): unknown {
  if (Array.isArray(v)) return isFilter ? v.map((x) => shapeValue(x, true)) : '…';
  if (v === null) return null;
  if (v && typeof v === 'object' && !(v instanceof Date) && isOperatorOrFilter(v as Record<string, unknown>, isFilter)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (k === '$and' || k === '$or' || k === '$nor') out[k] = (x as unknown[]).map((b) => shapeValue(b, true));
      else if (k === '$type' || k === '$exists') out[k] = x;
      else if (k.startsWith('$')) out[k] = '…';
      else out[k] = shapeValue(x, false);
    }
    return out;
  }
  return '=';
}

/** A filter level (field names) or an operator object (`$`-keys); a plain value object is an equality. */
function isOperatorOrFilter(v: Record<string, unknown>, isFilter: boolean): boolean {
  return isFilter || Object.keys(v).some((k) => k.startsWith('$'));
}
