import axios, { AxiosError, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import axiosRetry, { exponentialDelay, isNetworkError } from 'axios-retry';
import { z } from 'zod';
import { AppError, fail, isAppError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { redactAddresses } from '../../platform/redact.js';

/**
 * SHKeeper behind a small interface (spec: /work/shared/spec/shkeeper-api.md). SHKeeper answers
 * most errors as HTTP 200 with `status:"error"`, payouts as 500, missing credentials as a 302 to
 * /login, and payout status as 400/404 `{error}`; every one of them leaves here as
 * `AppError('provider_error')` with a generic message and the provider's text only in
 * `details.providerMessage`.
 */

export interface ShkeeperInvoice {
  id: number;
  amount: string;
  exchangeRate: string;
  wallet: string;
  displayName: string;
  recalculateAfterHours: number;
}
export interface ShkeeperInvoiceTx {
  addr: string;
  amount: string;
  crypto: string;
  status: string;
  txid: string;
}
export interface ShkeeperInvoiceState {
  externalId: string;
  fiat: string;
  amountFiat: string;
  balanceFiat: string;
  status: string;
  txs: ShkeeperInvoiceTx[];
}
export interface ShkeeperPayoutRequest {
  amount: string;
  destination: string;
  fee: string;
  callbackUrl?: string;
  externalId?: string;
}
export interface ShkeeperTaskStatus {
  status: string;
  result: unknown;
}

export interface ShkeeperClient {
  listCryptos(): Promise<{ name: string; displayName: string }[]>;
  createPaymentRequest(crypto: string, req: { externalId: string; fiat: string; amount: string; callbackUrl: string }): Promise<ShkeeperInvoice>;
  getInvoices(externalId: string): Promise<ShkeeperInvoiceState[]>;
  createPayout(crypto: string, req: ShkeeperPayoutRequest): Promise<{ taskId: string; externalId?: string }>;
  getTask(crypto: string, taskId: string): Promise<ShkeeperTaskStatus>;
  payoutStatus(crypto: string, externalId: string): Promise<{ status: string; txid: string | null } | null>;
}

export interface ShkeeperClientOptions {
  /** SHKeeper's origin (`https://shk.example.com`); a trailing `/api/v1` is accepted too. */
  apiUrl: string;
  apiKey?: string;
  /** The SHKeeper UI login, used as HTTP Basic auth on payout and task endpoints. */
  username?: string;
  password?: string;
  /** Per attempt. Default 10 s. */
  timeoutMs?: number;
  /** Retries after the first attempt, for calls that are safe to repeat. Default 3. */
  retries?: number;
  /** Backoff factor: retry n waits 2^n × this, plus up to 20 % jitter. Default 100 ms (200, 400, 800 ms). */
  retryBaseDelayMs?: number;
  logger: Logger;
  /** Told about every call (metrics): operation, seconds, and whether SHKeeper answered. */
  onCall?: (operation: string, seconds: number, outcome: 'ok' | 'error') => void;
}

/** The client's own codes; their generic messages are the catalog's (errorCatalog.ts). */
type ShkeeperCode = 'shkeeper_error' | 'shkeeper_auth' | 'shkeeper_timeout' | 'shkeeper_unreachable' | 'shkeeper_duplicate_payout';

/** The exact texts of SHKeeper's auth decorators (spec §1). */
const AUTH_MESSAGES = new Set(['No API key', 'Bad API key', 'Bad HTTP Basic Auth credentials', "This endpoint doesn't accept X-Shkeeper-Api-Key auth"]);
const DUPLICATE_PAYOUT = /^Payout with this external_id already exists/;

const decimalText = z.union([z.string(), z.number()]).transform(String);
const invoiceSchema = z.object({
  id: z.number().int(),
  amount: decimalText,
  exchange_rate: decimalText,
  wallet: z.string().min(1),
  display_name: z.string(),
  recalculate_after: z.coerce.number().int().default(0),
});
const invoiceStateSchema = z.object({
  external_id: z.union([z.string(), z.number()]).transform(String),
  fiat: z.string(),
  amount_fiat: decimalText,
  balance_fiat: decimalText,
  status: z.string(),
  txs: z.array(z.object({ addr: z.string(), amount: decimalText, crypto: z.string(), status: z.string(), txid: z.string() })).default([]),
});
const invoicesSchema = z.union([z.object({ invoices: z.array(invoiceStateSchema) }), z.array(invoiceStateSchema).transform((invoices) => ({ invoices }))]);
const cryptoListSchema = z.object({
  crypto_list: z.array(z.object({ name: z.string(), display_name: z.string() })).optional(),
  crypto: z.array(z.string()).optional(),
});
const payoutSchema = z.object({ task_id: z.string().min(1), external_id: z.union([z.string(), z.number()]).transform(String).optional() });
const taskSchema = z.object({ status: z.string(), result: z.unknown().optional() });
const payoutStatusSchema = z.object({ status: z.string(), txid: z.string().nullable().optional() });

interface Call {
  operation: string;
  /**
   * `true`: safe to send twice (a read, or an upsert keyed by our id), retried on any transient
   * failure. `'unsent'`: retried only when the request provably never reached SHKeeper.
   */
  repeatable: boolean | 'unsent';
  auth: 'none' | 'apiKey' | 'basic';
  config: AxiosRequestConfig;
}

export function createShkeeperClient(opts: ShkeeperClientOptions): ShkeeperClient {
  const log = opts.logger;
  const retries = opts.retries ?? 3;
  const baseURL = opts.apiUrl.replace(/\/+$/, '').replace(/\/api\/v1$/, '') + '/api/v1';
  const http = axios.create({
    baseURL,
    timeout: opts.timeoutMs ?? 10_000,
    // A 302 to /login means "no credentials"; following it would turn it into an HTML 200.
    maxRedirects: 0,
    // 2xx–4xx are SHKeeper answers we read ourselves; 5xx go through the retry policy first.
    validateStatus: (s) => s < 500,
    headers: { Accept: 'application/json' },
  });
  axiosRetry(http, {
    retries,
    shouldResetTimeout: true,
    retryDelay: (n, err) => exponentialDelay(n, err, opts.retryBaseDelayMs ?? 100),
    retryCondition: isTransient,
    onRetry: (n, err, cfg) =>
      log.warn({ request: `${cfg.method?.toUpperCase()} ${cfg.url}`, attempt: n + 1, reason: describeTransport(err) }, 'retrying SHKeeper call'),
  });

  /**
   * Missing credentials are not refused here: SHKeeper's own answer ("No API key", or the 302 to
   * /login) becomes the `shkeeper_auth` error, so there is one path for every auth failure.
   */
  function authHeaders(call: Call): Record<string, string> {
    if (call.auth === 'apiKey' && opts.apiKey) return { 'X-Shkeeper-Api-Key': opts.apiKey };
    if (call.auth === 'basic' && opts.username && opts.password !== undefined) {
      return { Authorization: `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}` };
    }
    return {};
  }

  /**
   * The log keeps SHKeeper's text as it came (`logMessage` when the wire detail differs); the
   * error, which reaches clients, never carries an internal address (host, port, URL).
   */
  function failed(operation: string, code: ShkeeperCode, providerMessage: string, extra: Record<string, unknown> = {}, logMessage = providerMessage): AppError {
    const clip = (m: string) => (m.length > 500 ? `${m.slice(0, 500)}…` : m);
    log.warn({ operation, code, providerMessage: clip(logMessage), ...extra }, 'SHKeeper call failed');
    const message = clip(redactAddresses(providerMessage));
    return fail(code, { details: { operation, providerMessage: message, ...extra } });
  }

  /** Sends a call; transport failures (after retries) become AppErrors, any HTTP answer is returned. */
  async function send(call: Call): Promise<AxiosResponse<unknown>> {
    const started = Date.now();
    try {
      const res = await http.request({
        ...call.config,
        headers: { ...call.config.headers, ...authHeaders(call) },
        'axios-retry': call.repeatable === 'unsent' ? { retries, retryCondition: neverReachedServer } : { retries: call.repeatable ? retries : 0 },
      });
      log.debug({ operation: call.operation, httpStatus: res.status, ms: Date.now() - started }, 'SHKeeper answered');
      opts.onCall?.(call.operation, (Date.now() - started) / 1000, 'ok');
      return res;
    } catch (err) {
      opts.onCall?.(call.operation, (Date.now() - started) / 1000, 'error');
      if (!(err instanceof AxiosError)) throw err;
      if (err.response) return err.response; // a 5xx that retries did not cure
      const attempts = (err.config?.['axios-retry']?.retryCount ?? 0) + 1;
      const timedOut = err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT';
      throw failed(call.operation, timedOut ? 'shkeeper_timeout' : 'shkeeper_unreachable', transportSummary(err), { attempts }, describeTransport(err));
    }
  }

  /** Reads a SHKeeper answer: anything but a 2xx JSON value without `status:"error"` is a failure. */
  function bodyOf(call: Call, res: AxiosResponse<unknown>): unknown {
    const body = res.data;
    const obj = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    const text = providerText(obj);
    if (res.status >= 300 && res.status < 400) {
      const location = String(res.headers['location'] ?? '');
      const code = /\/login/.test(location) ? 'shkeeper_auth' : 'shkeeper_error';
      throw failed(
        call.operation,
        code,
        `HTTP ${res.status} redirect to ${location ? pathOf(location) : '(none)'}`,
        { httpStatus: res.status },
        `HTTP ${res.status} redirect to ${location || '(none)'}`,
      );
    }
    if (res.status >= 500 && !(obj?.status === 'error')) {
      const code = res.status >= 502 && res.status <= 504 ? 'shkeeper_unreachable' : 'shkeeper_error';
      throw failed(call.operation, code, text ?? `HTTP ${res.status}`, { httpStatus: res.status });
    }
    const json = obj !== undefined || Array.isArray(body);
    if (res.status >= 300 || !json || obj?.status === 'error') {
      const message = text ?? (json ? `HTTP ${res.status}` : `HTTP ${res.status}: not a JSON body`);
      const code: ShkeeperCode = AUTH_MESSAGES.has(message) ? 'shkeeper_auth' : DUPLICATE_PAYOUT.test(message) ? 'shkeeper_duplicate_payout' : 'shkeeper_error';
      throw failed(call.operation, code, message, { httpStatus: res.status });
    }
    return body;
  }

  function parse<T extends z.ZodType>(call: Call, schema: T, body: unknown): z.output<T> {
    const r = schema.safeParse(body);
    if (r.success) return r.data;
    throw failed(call.operation, 'shkeeper_error', `unexpected response shape: ${r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  }

  const path = (...segments: string[]) => '/' + segments.map((s) => encodeURIComponent(s)).join('/');
  const cryptoSegment = (crypto: string) => crypto.trim().toUpperCase();

  return {
    async listCryptos() {
      const call: Call = { operation: 'listCryptos', repeatable: true, auth: 'none', config: { method: 'GET', url: '/crypto' } };
      const body = parse(call, cryptoListSchema, bodyOf(call, await send(call)));
      if (body.crypto_list) return body.crypto_list.map((c) => ({ name: c.name, displayName: c.display_name }));
      return (body.crypto ?? []).map((name) => ({ name, displayName: name }));
    },

    async createPaymentRequest(crypto, req) {
      const call: Call = {
        operation: 'createPaymentRequest',
        // An upsert on (external_id, callback_url, fiat): repeating it re-quotes the same invoice (§3.3).
        repeatable: true,
        auth: 'apiKey',
        config: {
          method: 'POST',
          url: path(cryptoSegment(crypto), 'payment_request'),
          data: { external_id: req.externalId, fiat: req.fiat.trim().toUpperCase(), amount: String(req.amount), callback_url: req.callbackUrl },
        },
      };
      const b = parse(call, invoiceSchema, bodyOf(call, await send(call)));
      return {
        id: b.id,
        amount: b.amount,
        exchangeRate: b.exchange_rate,
        wallet: b.wallet,
        displayName: b.display_name,
        recalculateAfterHours: b.recalculate_after,
      };
    },

    async getInvoices(externalId) {
      const call: Call = { operation: 'getInvoices', repeatable: true, auth: 'apiKey', config: { method: 'GET', url: path('invoices', externalId) } };
      const { invoices } = parse(call, invoicesSchema, bodyOf(call, await send(call)));
      return invoices.map((i) => ({
        externalId: i.external_id,
        fiat: i.fiat,
        amountFiat: i.amount_fiat,
        balanceFiat: i.balance_fiat,
        status: i.status,
        txs: i.txs,
      }));
    },

    async createPayout(crypto, req) {
      const externalId = req.externalId === '' ? undefined : req.externalId;
      const call: Call = {
        operation: 'createPayout',
        // SHKeeper checks for a duplicate external_id before paying but records the payout only
        // after its wallet backend answers, so a retry of a request it may still be working on
        // could pay twice. A payout is re-sent only when the connection was never made; after a
        // timeout or a reset the payout is left for reconciliation by its external id.
        repeatable: externalId !== undefined ? 'unsent' : false,
        auth: 'basic',
        config: {
          method: 'POST',
          url: path(cryptoSegment(crypto), 'payout'),
          data: {
            amount: String(req.amount),
            destination: req.destination,
            fee: String(req.fee),
            ...(req.callbackUrl ? { callback_url: req.callbackUrl } : {}),
            ...(externalId === undefined ? {} : { external_id: externalId }),
          },
        },
      };
      const res = await send(call);
      let body: unknown;
      try {
        body = bodyOf(call, res);
      } catch (err) {
        if (isAppError(err, 'shkeeper_duplicate_payout') && externalId !== undefined) {
          throw await duplicatePayout(crypto, externalId, err, res);
        }
        throw err;
      }
      const b = parse(call, payoutSchema, body);
      return { taskId: b.task_id, ...(b.external_id === undefined ? {} : { externalId: b.external_id }) };
    },

    async getTask(crypto, taskId) {
      const call: Call = { operation: 'getTask', repeatable: true, auth: 'basic', config: { method: 'GET', url: path(cryptoSegment(crypto), 'task', taskId) } };
      const b = parse(call, taskSchema, bodyOf(call, await send(call)));
      return { status: b.status, result: b.result ?? null };
    },

    payoutStatus,
  };

  async function payoutStatus(crypto: string, externalId: string) {
    const call: Call = {
      operation: 'payoutStatus',
      repeatable: true,
      // Unlike creating a payout, reading its status by external id takes the API key (§6.4).
      auth: 'apiKey',
      config: { method: 'GET', url: path(cryptoSegment(crypto), 'payout', 'status'), params: { external_id: externalId } },
    };
    const res = await send(call);
    // Only SHKeeper's own "not found" means no such payout; any other 404 (a wrong base URL) is an error.
    if (res.status === 404 && (res.data as { error?: unknown } | null)?.error === 'Payout not found') return null;
    const b = parse(call, payoutStatusSchema, bodyOf(call, res));
    return { status: b.status, txid: b.txid ?? null };
  }

  /**
   * SHKeeper already holds a payout with this external id. After a retry that means our first
   * attempt went through; either way the payout must not be created again, so the caller gets
   * what SHKeeper knows about it (its task id is not retrievable by external id).
   */
  async function duplicatePayout(crypto: string, externalId: string, err: AppError, res: AxiosResponse): Promise<AppError> {
    const attempts = (res.config['axios-retry']?.retryCount ?? 0) + 1;
    const retried = attempts > 1;
    let existing: { status: string; txid: string | null } | null = null;
    try {
      existing = await payoutStatus(crypto, externalId);
    } catch {
      // Already logged by payoutStatus; the duplicate error below still says what happened.
    }
    const details = { ...(err.details as Record<string, unknown>), externalId, attempts, firstAttemptAccepted: retried, existingPayout: existing };
    const message = retried ? 'the payout was accepted by an earlier attempt of this request; track it by its external id' : undefined;
    return fail('shkeeper_duplicate_payout', { message, details });
  }
}

/** Network errors and 5xx that are not SHKeeper's own structured `status:"error"` answer. */
/** The request cannot have reached SHKeeper: no connection was ever established. */
function neverReachedServer(err: AxiosError): boolean {
  return !err.response && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'].includes(err.code ?? '');
}

function isTransient(err: AxiosError): boolean {
  if (!err.response) return isNetworkError(err);
  if (err.response.status < 500) return false;
  const body = err.response.data as { status?: unknown } | undefined;
  return !(typeof body === 'object' && body !== null && body.status === 'error');
}

function providerText(obj: Record<string, unknown> | undefined): string | undefined {
  // `message` on most errors, `error` on payout status, `msg` from wallet backends (§8.13).
  for (const key of ['message', 'error', 'msg'] as const) {
    const v = obj?.[key];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

/** What went wrong on the wire, without the request config (which carries the credentials). */
function describeTransport(err: AxiosError): string {
  if (err.response) return `HTTP ${err.response.status}`;
  return [err.code, err.message].filter(Boolean).join(': ');
}

const TRANSPORT_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  ERR_CANCELED: 'request cancelled',
  ERR_NETWORK: 'network error',
};

/**
 * What went wrong on the wire in words a client may read: no host, port or URL (socket errors
 * name them: "connect ECONNREFUSED 10.0.0.5:5000"). The log keeps `describeTransport`'s detail.
 */
function transportSummary(err: AxiosError): string {
  if (err.response) return `HTTP ${err.response.status}`;
  const code = err.code ?? 'ERROR';
  // axios' own timeout text ("timeout of 10000ms exceeded") names no address.
  if (code === 'ECONNABORTED') return /^timeout of \d+ms exceeded$/.test(err.message) ? `${code}: ${err.message}` : `${code}: timeout`;
  return `${code}: ${TRANSPORT_FAILURES[code] ?? redactAddresses(err.message || 'network error')}`;
}

/** A redirect's target without its origin: `/login`, never `http://shkeeper.internal:5000/login`. */
function pathOf(location: string): string {
  try {
    return new URL(location, 'http://placeholder.invalid').pathname;
  } catch {
    return redactAddresses(location);
  }
}
