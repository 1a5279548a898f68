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
 * no proxy from the environment is used, and the answer is read as text, at most 64 KiB. Every
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
    try {
      const res = await axios.post<string>(url, body, {
        headers: { 'Content-Type': 'application/json', 'User-Agent': this.opts.userAgent, ...headers },
        timeout: this.opts.timeoutMs,
        maxRedirects: 0,
        proxy: false,
        responseType: 'text',
        transformResponse: [(d: unknown) => d],
        maxContentLength: 64 * 1024,
        validateStatus: () => true,
        lookup: publicLookup(this.opts.policy.allowPrivate),
      });
      const ok = res.status >= 200 && res.status < 300;
      const text = typeof res.data === 'string' ? res.data.slice(0, KEPT_BODY) : null;
      return done({ ok, responseCode: res.status, responseBody: text, error: ok ? null : `HTTP ${res.status}` });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const reason = e.code === 'ECONNABORTED' || e.code === 'ETIMEDOUT' ? `timed out after ${this.opts.timeoutMs} ms` : (e.message ?? String(err));
      return done({ ok: false, responseCode: null, responseBody: null, error: reason.slice(0, 300) });
    }
  }
}
