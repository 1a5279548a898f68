import http from 'node:http';
import https from 'node:https';
import { callbackHeaders, compactSortedJson, legacyJson } from './signing.js';

/**
 * SHKeeper's callback sender (spec §5, §6.5): one stream per transaction (or payout); each attempt
 * rebuilds the body from the current state, signs it afresh, and only HTTP 202 ends the stream.
 * Retries run on a short fixed interval and stop after `maxAttempts` so that tests never hang.
 */

export type CallbackKind = 'invoice' | 'unconfirmed' | 'payout';

/** Ways to make a callback misbehave, per payment (or per payout). */
export interface CallbackVariant {
  /** Pre-v2.5.16: `requests.post(json=…)` body, only `X-Shkeeper-Api-Key`, no timestamp or signature. */
  legacy?: boolean;
  /** Added to `X-Shkeeper-Timestamp` (seconds); -600 makes a stale callback. */
  timestampOffsetSec?: number;
  /** Signed with a wrong key. */
  badSignature?: boolean;
  /** After the first 202, send the same callback this many more times (new timestamp and signature). */
  duplicates?: number;
  /** Wait this long before the first attempt, so that a later callback can overtake this one. */
  delayMs?: number;
}

export interface Delivery {
  stream: number;
  kind: CallbackKind;
  url: string;
  externalId: string | null;
  txid: string | null;
  /** 1-based, within the stream. */
  attempt: number;
  /** A deliberate resend after the stream was already acknowledged (`duplicates`). */
  duplicate: boolean;
  /** The receiver's HTTP status, or null when there was none (refused, reset, timed out). */
  status: number | null;
  error?: string;
  body: string;
  headers: Record<string, string>;
  at: Date;
}

export interface CallbackStream {
  id: number;
  kind: CallbackKind;
  url: string;
  externalId: string | null;
  txid: string | null;
  state: 'deferred' | 'sending' | 'delivered' | 'failed';
  attempts: number;
}

export interface StreamSpec {
  kind: CallbackKind;
  url: string;
  externalId: string | null;
  txid: string | null;
  build(): unknown;
  withApiKeyHeader: boolean;
  variant: CallbackVariant;
  maxAttempts: number;
  onAccepted?(): void;
}

export interface SenderOptions {
  apiKey(): string;
  retryMs: number;
  timeoutMs: number;
}

export class CallbackSender {
  readonly deliveries: Delivery[] = [];
  readonly streams: CallbackStream[] = [];
  private readonly active = new Set<Promise<void>>();
  private queue: { info: CallbackStream; spec: StreamSpec }[] = [];
  private deferring = false;
  private closed = false;
  private readonly aborters = new Set<AbortController>();
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly o: SenderOptions) {}

  send(spec: StreamSpec): CallbackStream {
    const info: CallbackStream = {
      id: this.streams.length + 1,
      kind: spec.kind,
      url: spec.url,
      externalId: spec.externalId,
      txid: spec.txid,
      state: this.deferring ? 'deferred' : 'sending',
      attempts: 0,
    };
    this.streams.push(info);
    if (this.deferring) this.queue.push({ info, spec });
    else this.track(this.run(info, spec));
    return info;
  }

  /** Hold new streams back until `flush`. */
  defer(): void {
    this.deferring = true;
  }

  /**
   * Starts the held streams in the given order, each one after the previous one's first attempt
   * has been answered, so the receiver sees them in exactly that order. Stops deferring.
   */
  async flush(order: 'fifo' | 'reverse' = 'fifo'): Promise<void> {
    this.deferring = false;
    const held = order === 'reverse' ? this.queue.reverse() : this.queue;
    this.queue = [];
    for (const { info, spec } of held) {
      info.state = 'sending';
      await new Promise<void>((firstDone) => this.track(this.run(info, spec, firstDone)));
    }
  }

  /** Resolves when every started stream has been acknowledged or has given up (held ones excluded). */
  async settled(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }

  close(): void {
    this.closed = true;
    for (const a of this.aborters) a.abort();
    for (const wake of this.sleepers) wake();
  }

  private track(p: Promise<void>): void {
    this.active.add(p);
    void p.finally(() => this.active.delete(p));
  }

  private async run(info: CallbackStream, spec: StreamSpec, firstDone?: () => void): Promise<void> {
    try {
      if (spec.variant.delayMs) await this.sleep(spec.variant.delayMs);
      while (!this.closed) {
        info.attempts += 1;
        const status = await this.attempt(info, spec, false);
        firstDone?.();
        firstDone = undefined;
        if (status === 202) {
          info.state = 'delivered';
          spec.onAccepted?.();
          for (let i = 0; i < (spec.variant.duplicates ?? 0) && !this.closed; i++) await this.attempt(info, spec, true);
          return;
        }
        if (info.attempts >= spec.maxAttempts) break;
        await this.sleep(this.o.retryMs);
      }
      info.state = 'failed';
    } finally {
      firstDone?.();
    }
  }

  private async attempt(info: CallbackStream, spec: StreamSpec, duplicate: boolean): Promise<number | null> {
    const payload = spec.build();
    const body = spec.variant.legacy ? legacyJson(payload) : compactSortedJson(payload);
    const headers = callbackHeaders(body, {
      apiKey: this.o.apiKey(),
      withApiKeyHeader: spec.withApiKeyHeader,
      legacy: spec.variant.legacy,
      badSignature: spec.variant.badSignature,
      timestamp: Math.floor(Date.now() / 1000) + (spec.variant.timestampOffsetSec ?? 0),
    });
    const aborter = new AbortController();
    this.aborters.add(aborter);
    const r = await post(spec.url, body, headers, this.o.timeoutMs, aborter.signal).finally(() => this.aborters.delete(aborter));
    this.deliveries.push({
      stream: info.id,
      kind: info.kind,
      url: spec.url,
      externalId: info.externalId,
      txid: info.txid,
      attempt: this.deliveries.filter((d) => d.stream === info.id).length + 1,
      duplicate,
      status: r.status,
      ...(r.error === undefined ? {} : { error: r.error }),
      body,
      headers,
      at: new Date(),
    });
    return r.status;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
      if (this.closed) wake();
    });
  }
}

/** One POST, no redirects followed, no connection reuse; never rejects. */
function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ status: number | null; error?: string }> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve({ status: null, error: `invalid URL: ${url}` });
      return;
    }
    const send = target.protocol === 'https:' ? https.request : http.request;
    const req = send(target, { method: 'POST', agent: false, signal, headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } }, (res) => {
      clearTimeout(timer);
      res.resume();
      resolve({ status: res.statusCode ?? null });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      resolve({ status: null, error: e.message });
    });
    req.end(body);
  });
}
