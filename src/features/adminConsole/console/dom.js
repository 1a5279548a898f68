/**
 * DOM helpers for the console. Everything from the API reaches the page as text nodes or
 * attribute values, never as HTML.
 */

/**
 * Builds an element: `el('td', { class: 'mono', title: full }, 'text', child)`. `on<event>`
 * attributes given functions become listeners; other values are set as attributes (strings only).
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function' && key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

/** Appends children (nodes, or anything else as text), skipping null, undefined and false. */
export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The element with this id. */
export const byId = (id) => document.getElementById(id);

/** A hash or address shortened for a table cell, the whole value in its tooltip. */
export function shortHex(value) {
  if (typeof value !== 'string' || value.length < 16) return el('span', { class: 'mono' }, value ?? '—');
  return el('span', { class: 'mono', title: value }, `${value.slice(0, 8)}…${value.slice(-6)}`);
}

/** A whole hash or address in monospace (wrapping), or a dash. */
export const mono = (value) => el('span', { class: 'mono wrap' }, value ?? '—');

/** Seconds as "3 d 4 h", "5 h 2 min", "7 min" or "12 s". */
export function age(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s >= 86400) return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}

/** An ISO time as the browser's local date and time. */
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/** A definition list of [label, value] pairs. */
export function facts(pairs) {
  return el(
    'dl',
    { class: 'facts' },
    pairs.map(([label, value]) => [el('dt', null, label), el('dd', null, value ?? '—')]),
  );
}

/** A table with a header row and one row per item: an array of cells, or a row element built by the caller. */
export function table(headers, rows, attrs) {
  return el(
    'figure',
    { class: 'table-wrap' },
    el(
      'table',
      attrs,
      el(
        'thead',
        null,
        el(
          'tr',
          null,
          headers.map((h) => el('th', { scope: 'col' }, h)),
        ),
      ),
      el(
        'tbody',
        null,
        rows.map((cells) =>
          Array.isArray(cells)
            ? el(
                'tr',
                null,
                cells.map((c) => el('td', null, c)),
              )
            : cells,
        ),
      ),
    ),
  );
}
