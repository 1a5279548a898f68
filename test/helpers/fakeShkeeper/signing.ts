import { createHmac } from 'node:crypto';

/**
 * How SHKeeper serialises and signs callbacks (spec §5.1, §5.2): since v2.5.16 the body is compact
 * JSON with recursively sorted keys, signed as hex HMAC-SHA256(apiKey, ts + "." + body). Before
 * that, `requests.post(json=…)` sent `", "`/`": "` separators in insertion order, unsigned.
 */

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    // Python sorts by code point; JS's default sort compares UTF-16 units, the same for the
    // ASCII keys SHKeeper uses.
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key] as Json);
    return out;
  }
  return value;
}

/** `json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)`. */
export function compactSortedJson(value: unknown): string {
  return JSON.stringify(sortKeys(value as Json));
}

/** `json.dumps(obj)` as `requests` sends it: insertion order, `", "` and `": "`, ASCII-escaped. */
export function legacyJson(value: unknown): string {
  const v = value as Json;
  if (Array.isArray(v)) return `[${v.map(legacyJson).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v)
      .map(([k, x]) => `${asciiString(k)}: ${legacyJson(x)}`)
      .join(', ')}}`;
  }
  return typeof v === 'string' ? asciiString(v) : JSON.stringify(v);
}

function asciiString(s: string): string {
  return JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function signBody(apiKey: string, timestamp: string, body: string | Buffer): string {
  return createHmac('sha256', Buffer.from(apiKey, 'utf8'))
    .update(Buffer.concat([Buffer.from(`${timestamp}.`, 'ascii'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]))
    .digest('hex');
}

export interface SignOptions {
  apiKey: string;
  /** Unix seconds; default now. */
  timestamp?: number;
  /** Sign with a wrong key so the receiver must refuse it. */
  badSignature?: boolean;
  /** Payout callbacks carry no `X-Shkeeper-Api-Key` (§6.5). */
  withApiKeyHeader: boolean;
  /** Pre-v2.5.16: only the API key header, no timestamp or signature. */
  legacy?: boolean;
}

/** The headers of a callback whose body is `body` (already serialised: the bytes that are sent). */
export function callbackHeaders(body: string, opts: SignOptions): Record<string, string> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': 'python-requests/2.28.1',
  };
  if (opts.withApiKeyHeader) headers['X-Shkeeper-Api-Key'] = opts.apiKey;
  if (opts.legacy) return headers;
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  headers['X-Shkeeper-Timestamp'] = ts;
  headers['X-Shkeeper-Signature'] = signBody(opts.badSignature ? `${opts.apiKey}-wrong` : opts.apiKey, ts, body);
  return headers;
}
