import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';

/** One request the receiver got, and what it answered. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  at: number;
}

/**
 * A real HTTP receiver on 127.0.0.1 for outbound webhooks: records every request with its raw
 * body, answers `status` (200 by default), and can go down (its port refuses connections) and
 * come back up on the same port.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  status = 200;
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  /** The port it listens on: picked when first started, kept across `down` and `up`. */
  port = 0;

  static async start(): Promise<WebhookReceiver> {
    const r = new WebhookReceiver();
    r.port = await r.listen();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** The requests answered 2xx: what the marketplace really got. */
  get delivered(): Received[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }

  /** Stops listening and drops open connections: sends are refused until `up`. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  async up(): Promise<void> {
    if (!this.server) await this.listen();
  }

  close(): Promise<void> {
    return this.down();
  }

  private listen(): Promise<number> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = this.status;
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status, at: Date.now() });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
      });
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  }
}
