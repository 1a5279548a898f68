import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { classify, serialize, type Endpoint, type ParsedRequest, type Reply } from './routes.js';

/**
 * The fake's HTTP server on 127.0.0.1, with what tests need around it: a log of every request,
 * call counts per endpoint, and injected failures (500, hang, reset, refused connections).
 */

export type FailureMode =
  /** Answer 500 as Flask does for an unhandled exception, without handling the request. */
  | 'http500'
  /** Answer 503 as a reverse proxy does when SHKeeper is down (HTML body). */
  | 'http503'
  /** Never answer (the client's timeout fires). */
  | 'hang'
  /** Drop the connection before handling the request. */
  | 'reset'
  /** Handle the request (state changes!), then drop the connection instead of answering. */
  | 'reset_after_processing';

export interface RecordedRequest {
  method: string;
  path: string;
  endpoint: Endpoint;
  headers: IncomingHttpHeaders;
  body: string;
  at: Date;
}

interface FailureRule {
  mode: FailureMode;
  endpoint?: Endpoint;
  remaining: number;
}

export class FakeHttpServer {
  readonly requests: RecordedRequest[] = [];
  private failures: FailureRule[] = [];
  private readonly server: http.Server;
  private port = 0;
  private listening = false;

  constructor(private readonly handle: (req: ParsedRequest) => Reply) {
    // A client that gives up mid-request (timeouts, aborts) must not surface as an unhandled rejection.
    this.server = http.createServer((req, res) => void this.onRequest(req, res).catch(() => req.socket.destroy()));
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.listening = true;
  }

  async close(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Fail the next `times` requests (default: every request until `heal`), optionally of one endpoint. */
  fail(mode: FailureMode, opts: { times?: number; endpoint?: Endpoint } = {}): void {
    this.failures.push({ mode, endpoint: opts.endpoint, remaining: opts.times ?? Infinity });
  }

  heal(): void {
    this.failures = [];
  }

  /** Stops listening, so that connections are refused, keeping the port for `acceptConnections`. */
  refuseConnections(): Promise<void> {
    return this.close();
  }

  async acceptConnections(): Promise<void> {
    if (!this.listening) await this.listen();
  }

  calls(endpoint?: Endpoint): number {
    return endpoint === undefined ? this.requests.length : this.requests.filter((r) => r.endpoint === endpoint).length;
  }

  private takeFailure(endpoint: Endpoint): FailureMode | undefined {
    const rule = this.failures.find((f) => f.remaining > 0 && (f.endpoint === undefined || f.endpoint === endpoint));
    if (!rule) return undefined;
    rule.remaining -= 1;
    return rule.mode;
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const segments = url.pathname.split('/').filter(Boolean).map(safeDecode);
    const endpoint = classify(segments);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, endpoint, headers: req.headers, body, at: new Date() });

    const failure = this.takeFailure(endpoint);
    if (failure === 'hang') return; // closeAllConnections() on close() ends it
    if (failure === 'reset') {
      req.socket.destroy();
      return;
    }
    let reply: Reply;
    if (failure === 'http500') {
      reply = { status: 500, body: { code: 500, status: 'Internal Server Error' } };
    } else if (failure === 'http503') {
      reply = { status: 503, text: '<html><head><title>503 Service Temporarily Unavailable</title></head></html>' };
    } else {
      try {
        reply = this.handle({ method: req.method ?? 'GET', segments, query: url.searchParams, headers: req.headers, json: parseJson(body) });
      } catch {
        reply = { status: 500, body: { code: 500, status: 'Internal Server Error' } };
      }
    }
    if (failure === 'reset_after_processing') {
      req.socket.destroy();
      return;
    }
    const out = serialize(reply);
    res.writeHead(reply.status, { 'Content-Type': out.contentType, ...reply.headers });
    res.end(out.body);
  }
}

function parseJson(body: string): unknown {
  if (body.trim() === '') return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
