import type { IncomingHttpHeaders } from 'node:http';
import { ShkError } from './common.js';
import type { InvoiceBook } from './invoices.js';
import type { PayoutDesk } from './payouts.js';
import { compactSortedJson } from './signing.js';

/**
 * The HTTP surface of the fake (spec §1, §3, §6, §7, §9): routing, SHKeeper's two auth schemes
 * with their exact error answers, and the handlers. Pure: a request in, a `Reply` out.
 */

export type Endpoint = 'crypto' | 'payment_request' | 'invoices' | 'payout' | 'multipayout' | 'task' | 'payout_status' | 'login' | 'other';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A non-JSON body (the login page). */
  text?: string;
}

export interface CryptoDef {
  name: string;
  displayName: string;
  /** Disabled in the UI: missing from /crypto, payment_request says "unavailable". */
  enabled: boolean;
  /** With DISABLE_CRYPTO_WHEN_LAGS and an unsynced node. */
  lagging: boolean;
}

export interface RouteContext {
  apiKey: string;
  username: string;
  password: string;
  cryptos: CryptoDef[];
  book: InvoiceBook;
  desk: PayoutDesk;
}

export interface ParsedRequest {
  method: string;
  segments: string[];
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The raw body parsed as JSON; `undefined` when it is not JSON (or empty). */
  json: unknown;
}

const json = (body: unknown, status = 200): Reply => ({ status, body });
/** Flask's own error pages, as flask-smorest renders them (spec §1: "probably"). */
const flaskError = (status: 404 | 405 | 500): Reply =>
  json({ code: status, status: { 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error' }[status] }, status);

export function classify(segments: string[]): Endpoint {
  const [a, b, c, d, e] = segments;
  if (a === 'login' && segments.length === 1) return 'login';
  if (a !== 'api' || b !== 'v1') return 'other';
  if (c === 'crypto' && segments.length === 3) return 'crypto';
  if (c === 'invoices' && segments.length <= 4) return 'invoices';
  if (segments.length === 4 && d === 'payment_request') return 'payment_request';
  if (segments.length === 4 && d === 'payout') return 'payout';
  if (segments.length === 4 && d === 'multipayout') return 'multipayout';
  if (segments.length === 5 && d === 'payout' && e === 'status') return 'payout_status';
  if (segments.length === 5 && d === 'task') return 'task';
  return 'other';
}

const METHODS: Record<Endpoint, string> = {
  crypto: 'GET',
  invoices: 'GET',
  payment_request: 'POST',
  payout: 'POST',
  multipayout: 'POST',
  task: 'GET',
  payout_status: 'GET',
  login: 'GET',
  other: '',
};

export function route(ctx: RouteContext, req: ParsedRequest): Reply {
  const endpoint = classify(req.segments);
  if (endpoint === 'other') return flaskError(404);
  if (req.method !== METHODS[endpoint] && !(endpoint === 'login' && req.method === 'POST')) return flaskError(405);
  const crypto = req.segments[2] ?? '';
  try {
    switch (endpoint) {
      case 'login':
        return { status: 200, text: '<!doctype html><title>Log In - SHKeeper</title><form method="post"></form>' };
      case 'crypto': {
        const list = ctx.cryptos.filter((c) => c.enabled && !c.lagging).sort((x, y) => (x.name < y.name ? -1 : 1));
        return json({ status: 'success', crypto: list.map((c) => c.name), crypto_list: list.map((c) => ({ name: c.name, display_name: c.displayName })) });
      }
      case 'payment_request':
        return apiKeyGate(ctx, req) ?? paymentRequest(ctx, crypto, req);
      case 'invoices': {
        const denied = apiKeyGate(ctx, req);
        if (denied) return denied;
        const externalId = req.segments[3];
        const list = externalId === undefined ? ctx.book.invoices : ctx.book.invoices.filter((i) => i.externalId === externalId);
        return json({ status: 'success', invoices: list.map((i) => ctx.book.toJson(i)) });
      }
      case 'payout_status': {
        const denied = apiKeyGate(ctx, req);
        if (denied) return denied;
        const r = ctx.desk.status(crypto, req.query.get('external_id') ?? undefined);
        return json(r.body, r.httpStatus);
      }
      case 'payout':
      case 'multipayout': {
        const denied = basicGate(ctx, req);
        if (denied) return denied;
        if (req.json === undefined) throw new ShkError('400 Bad Request: Failed to decode JSON object', 500);
        return json(endpoint === 'payout' ? ctx.desk.single(crypto, req.json) : ctx.desk.multi(crypto, req.json));
      }
      case 'task': {
        const denied = basicGate(ctx, req);
        if (denied) return denied;
        // `Crypto.instances[crypto_name]` raises KeyError: an unhandled 500.
        if (!ctx.cryptos.some((c) => c.name === crypto)) return flaskError(500);
        return json(ctx.desk.task(crypto, req.segments[4] ?? ''));
      }
    }
  } catch (err) {
    if (err instanceof ShkError) return json(err.body(), err.httpStatus);
    throw err;
  }
}

function paymentRequest(ctx: RouteContext, crypto: string, req: ParsedRequest): Reply {
  const def = ctx.cryptos.find((c) => c.name === crypto);
  if (!def || !def.enabled) return json({ status: 'error', message: `${crypto} payment gateway is unavailable` });
  if (def.lagging) return json({ status: 'error', message: `${crypto} payment gateway is unavailable because of lagging` });
  // The except-branch refers to `req` before it is set: a body that is not JSON is an unhandled 500.
  if (req.json === undefined) return flaskError(500);
  const inv = ctx.book.upsert(crypto, req.json);
  return json(ctx.book.forResponse(inv, def.displayName));
}

/** `api_key_required`: HTTP 200 errors, never 401 (spec §1). */
function apiKeyGate(ctx: RouteContext, req: ParsedRequest): Reply | undefined {
  const key = req.headers['x-shkeeper-api-key'];
  if (key === undefined) return json({ status: 'error', message: 'No API key' });
  if (key !== ctx.apiKey) return json({ status: 'error', message: 'Bad API key' });
  return undefined;
}

/** `basic_auth_optional` + `login_required` (spec §1). */
function basicGate(ctx: RouteContext, req: ParsedRequest): Reply | undefined {
  const auth = req.headers.authorization;
  const m = auth === undefined ? null : /^basic\s+(.*)$/i.exec(auth.trim());
  if (m) {
    const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i >= 0 && decoded.slice(0, i) === ctx.username && decoded.slice(i + 1) === ctx.password) return undefined;
    return json({ status: 'error', message: 'Bad HTTP Basic Auth credentials' });
  }
  if (req.headers['x-shkeeper-api-key'] !== undefined) {
    return json({ status: 'error', message: "This endpoint doesn't accept X-Shkeeper-Api-Key auth" });
  }
  return { status: 302, headers: { Location: '/login' }, text: '<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n' };
}

/** Flask's JSON: compact, sorted keys, trailing newline. */
export function serialize(reply: Reply): { body: string; contentType: string } {
  if (reply.text !== undefined) return { body: reply.text, contentType: 'text/html; charset=utf-8' };
  return { body: `${compactSortedJson(reply.body)}\n`, contentType: 'application/json' };
}
