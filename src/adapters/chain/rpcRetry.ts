import pRetry from 'p-retry';
import { AppError, fail } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { redactAddresses } from '../../platform/redact.js';

/**
 * Every RPC call goes through here. Transient failures (connection refused or reset, timeouts,
 * HTTP 5xx and 429, JSON-RPC rate-limit or "busy" errors) are retried with exponential backoff;
 * if they persist the caller gets `provider_error`/`rpc_unavailable`, never an empty answer that
 * could be read as "transaction not found". Other RPC failures become `provider_error`/`rpc_error`
 * at once. Errors are described by code and short message only: ethers' long messages embed the
 * request URL, and RPC URLs often carry an API key.
 */

export interface RpcRetryOptions {
  /** Retries after the first attempt. */
  retries: number;
  /** Delay before the first retry; doubles each time, with jitter. */
  minDelayMs?: number;
  maxDelayMs?: number;
  logger: Logger;
  /** Told about every call (metrics): label, seconds including retries, outcome. */
  onCall?: (label: string, seconds: number, outcome: 'ok' | 'error') => void;
}

export type RpcCall = <T>(label: string, fn: () => Promise<T>, translate?: (error: unknown) => AppError | undefined) => Promise<T>;

const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** JSON-RPC error codes that providers use for "limit exceeded" / "internal, try again". */
const TRANSIENT_RPC_CODES = new Set([-32005, -32603, 429]);
const TRANSIENT_RPC_MESSAGE =
  /rate.?limit|too many requests|limit exceeded|exceeded .*capacity|try again|temporar|timed? ?out|busy|overload|unavailable|header not found/i;

interface ErrorLike {
  code?: unknown;
  shortMessage?: unknown;
  message?: unknown;
  error?: { code?: unknown; message?: unknown };
  response?: { statusCode?: unknown };
}

export function isTransientRpcError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as ErrorLike;
  if (typeof e.code === 'string' && TRANSIENT_SOCKET_CODES.has(e.code)) return true;
  if (e.code === 'TIMEOUT' || e.code === 'NETWORK_ERROR') return true;
  if (e.code === 'SERVER_ERROR') {
    // A bad HTTP status: 5xx and 429 pass; 401/403/404 mean a wrong URL or key.
    const status = typeof e.response?.statusCode === 'number' ? e.response.statusCode : 0;
    return status === 0 || status === 429 || status >= 500;
  }
  if (e.code === 'UNKNOWN_ERROR' && e.error) {
    // A JSON-RPC error object that ethers could not classify.
    const rpcCode = e.error.code;
    const rpcMessage = typeof e.error.message === 'string' ? e.error.message : '';
    return (typeof rpcCode === 'number' && TRANSIENT_RPC_CODES.has(rpcCode)) || TRANSIENT_RPC_MESSAGE.test(rpcMessage);
  }
  return false;
}

/**
 * A log-safe one-liner: error code and ethers' short message, no URL, body or API key. Socket
 * errors keep their host and port here (for the log); errors handed on carry `clientSafe`'s form.
 */
export function describeRpcError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const e = error as ErrorLike;
  const code = typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : 'ERROR';
  const rpc = e.error && typeof e.error.message === 'string' ? ` (rpc ${String(e.error.code)}: ${e.error.message})` : '';
  // Socket errors carry host and port only ("connect ECONNREFUSED 127.0.0.1:8545"), never a path.
  const socketMessage = TRANSIENT_SOCKET_CODES.has(code) && typeof e.message === 'string' ? e.message : code;
  const short = typeof e.shortMessage === 'string' ? e.shortMessage : socketMessage;
  return `${code}: ${short}${rpc}`.slice(0, 300);
}

/** `describeRpcError` without any internal address (host, port, URL): what an error may carry onward. */
export function describeRpcErrorSafely(error: unknown): string {
  return redactAddresses(describeRpcError(error));
}

function rpcUnavailable(label: string, error: unknown, attempts: number): AppError {
  return fail('rpc_unavailable', { details: { call: label, attempts }, cause: new Error(describeRpcErrorSafely(error)) });
}

export function createRpcCall(opts: RpcRetryOptions): RpcCall {
  const log = opts.logger;
  return async (label, fn, translate) => {
    let attempts = 0;
    const started = performance.now();
    const report = (outcome: 'ok' | 'error') => opts.onCall?.(label, (performance.now() - started) / 1000, outcome);
    try {
      const result = await pRetry(
        async () => {
          attempts += 1;
          return fn();
        },
        {
          retries: opts.retries,
          minTimeout: opts.minDelayMs ?? 250,
          maxTimeout: opts.maxDelayMs ?? 4_000,
          factor: 2,
          randomize: true,
          shouldRetry: ({ error }) => !translate?.(error) && isTransientRpcError(error),
          onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
            if (!isTransientRpcError(error) || retriesLeft === 0) return;
            log.warn({ call: label, attempt: attemptNumber, retriesLeft, err: describeRpcError(error) }, 'RPC call failed; retrying');
          },
        },
      );
      report('ok');
      return result;
    } catch (error) {
      report('error');
      if (error instanceof AppError) throw error;
      const translated = translate?.(error);
      if (translated) throw translated;
      if (isTransientRpcError(error)) {
        log.warn({ call: label, attempts, err: describeRpcError(error) }, 'blockchain RPC unavailable');
        throw rpcUnavailable(label, error, attempts);
      }
      log.warn({ call: label, err: describeRpcError(error) }, 'blockchain RPC call failed');
      throw fail('rpc_error', { details: { call: label }, cause: new Error(describeRpcErrorSafely(error)) });
    }
  };
}
