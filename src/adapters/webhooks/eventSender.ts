import type { Readable } from 'node:stream';
import axios from 'axios';
import { checkEndpointUrl, publicLookup, type UrlPolicy } from './endpointUrl.js';

/** What one try of an outbound webhook saw. */
export interface SendResult {
  /** A 2xx answer: delivered. */
  ok: boolean;
  responseCode: number | null;
  /** The start of the answer's body (at most 1 KiB), for the operator's log. */
  responseBody: string | null;
  /** Why it did not succeed: `HTTP 500`, a refused address, a timeout…; null on success. */
  error: string | null;
  durationMs: number;
}

const KEPT_BODY = 1024;

/**
 * POSTs a signed event to an endpoint. Redirects are not followed (a redirect is a failure: the
 * endpoint must be the final URL, and following one could reach an address the check refused),
 * no proxy from the environment is used, a 2xx delivers whatever the body (only its first KiB is
 * read, for the log), and the whole try has one deadline, headers and body alike. Every
 * try checks the URL again and resolves its name through `publicLookup`. Never throws: a failure
 * is a result.
 */
export class EventSender {
  constructor(private readonly opts: { timeoutMs: number; policy: UrlPolicy; userAgent: string }) {}

  async send(url: string, body: string, headers: Record<string, string>): Promise<SendResult> {
    const started = performance.now();
    const done = (r: Omit<SendResult, 'durationMs'>): SendResult => ({ ...r, durationMs: Math.round(performance.now() - started) });
    const verdict = checkEndpointUrl(url, this.opts.policy);
    if (!verdict.ok) return done({ ok: false, responseCode: null, responseBody: null, error: `refused URL: ${verdict.reason}` });
    // One deadline for the whole try, headers and body alike: axios' own timeout stops at the
    // headers, and a receiver trickling its answer must not hold a slot (or outlive its lease).
    const deadline = AbortSignal.timeout(this.opts.timeoutMs);
    try {
      const res = await axios.post<Readable>(url, body, {
        headers: { 'Content-Type': 'application/json', 'User-Agent': this.opts.userAgent, ...headers },
        timeout: this.opts.timeoutMs,
        signal: deadline,
        maxRedirects: 0,
        proxy: false,
        responseType: 'stream',
        validateStatus: () => true,
        lookup: publicLookup(this.opts.policy.allowPrivate),
      });
      // The status decides; of the body only the start is read (for the log), whatever its size.
      const ok = res.status >= 200 && res.status < 300;
      const text = await firstBytes(res.data, KEPT_BODY, deadline);
      return done({ ok, responseCode: res.status, responseBody: text, error: ok ? null : `HTTP ${res.status}` });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const timedOut = e.code === 'ECONNABORTED' || e.code === 'ETIMEDOUT' || e.code === 'ERR_CANCELED' || deadline.aborted;
      const reason = timedOut ? `timed out after ${this.opts.timeoutMs} ms` : (e.message ?? String(err));
      return done({ ok: false, responseCode: null, responseBody: null, error: reason.slice(0, 300) });
    }
  }
}

/**
 * The first `max` bytes of a response body as UTF-8 text, then the stream is dropped (the rest is
 * never read). Resolves with what arrived by the deadline (or null when nothing did).
 */
function firstBytes(stream: Readable, max: number, deadline: AbortSignal): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = () => {
      stream.off('data', onData);
      deadline.removeEventListener('abort', finish);
      stream.destroy();
      resolve(size === 0 ? null : Buffer.concat(chunks).subarray(0, max).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= max) finish();
    };
    stream.on('data', onData);
    stream.once('end', finish);
    stream.once('error', finish);
    deadline.addEventListener('abort', finish, { once: true });
    if (deadline.aborted) finish();
  });
}
