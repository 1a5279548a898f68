import { connect as tcpConnect, type Socket as TcpSocket } from 'node:net';
import { io as ioConnect, type Socket as IoSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { systemClock } from '../../src/platform/clock.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';

/**
 * The real server (src/app/server.ts: node:http with `expressMessageClasses`, Socket.IO on the same
 * server, a draining path) at the HTTP level, with raw sockets where a client library would hide
 * what is on the wire: pipelining, chunked and aborted bodies, `Expect: 100-continue`, HEAD,
 * malformed requests, Socket.IO's handshake, Express's request getters, and a request arriving
 * while the server drains.
 */

const HEALTH = '/api/payment/health';
const WEBHOOK = '/api/payment/shkeeper/webhook';
const WEBHOOK_SECRET = 'edge-case-webhook-secret-0123456789';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What `RawConnection.responses(n)` resolves to: at least `n` responses (typed for destructuring the first few). */
type Responses = [RawResponse, RawResponse, RawResponse, RawResponse, ...RawResponse[]];

/**
 * The complete responses at the start of `bytes`. `methods` are the requests' methods in order (a
 * HEAD response has no body); a 1xx response is listed but does not use up a method.
 */
function parseResponses(bytes: Buffer, methods: string[] = [], closed = false): RawResponse[] {
  const text = bytes.toString('latin1');
  const out: RawResponse[] = [];
  let at = 0;
  let answered = 0;
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return out;
    const [statusLine = '', ...lines] = text.slice(at, headEnd).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let next = headEnd + 4;
    let body = '';
    if (status >= 100 && status < 200) {
      out.push({ status, headers, body });
      at = next;
      continue;
    }
    const noBody = methods[answered] === 'HEAD' || status === 204 || status === 304;
    if (noBody) {
      // nothing to read
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (Buffer.byteLength(text.slice(next), 'latin1') < length) return out;
      body = text.slice(next, next + length);
      next += length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      let pos = next;
      for (;;) {
        const lineEnd = text.indexOf('\r\n', pos);
        if (lineEnd < 0) return out;
        const size = parseInt(text.slice(pos, lineEnd), 16);
        if (size === 0) {
          const trailerEnd = text.indexOf('\r\n', lineEnd + 2);
          if (trailerEnd < 0) return out;
          pos = trailerEnd + 2;
          break;
        }
        if (text.length < lineEnd + 2 + size + 2) return out;
        body += text.slice(lineEnd + 2, lineEnd + 2 + size);
        pos = lineEnd + 2 + size + 2;
      }
      next = pos;
    } else {
      // Delimited by the connection's end.
      if (!closed) return out;
      body = text.slice(next);
      next = text.length;
    }
    out.push({ status, headers, body });
    answered++;
    at = next;
  }
}

/** A raw TCP connection to the server, collecting everything it receives. */
class RawConnection {
  received = Buffer.alloc(0);
  closed = false;
  private readonly watchers = new Set<() => void>();

  private constructor(readonly socket: TcpSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.notify();
    });
    // A reset (the server closing with unread data) counts as the end.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: hostname, port: Number(port) }, () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
      opened.push(socket);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves once `ready()` holds; fails after `ms`. */
  until<T>(ready: () => T | undefined, what: string, ms = 3_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = ready();
        if (v === undefined) return;
        this.watchers.delete(check);
        clearTimeout(timer);
        clearInterval(poll);
        resolve(v);
      };
      // Checked on every arrival, and every few ms for conditions outside the connection.
      const poll = setInterval(check, 5);
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        clearInterval(poll);
        reject(new Error(`${what} within ${ms} ms; received: ${JSON.stringify(this.received.toString('latin1'))}`));
      }, ms);
      this.watchers.add(check);
      check();
    });
  }

  /** The first `n` final responses (1xx excluded unless `withInterim`). */
  responses(n: number, methods: string[] = [], withInterim = false): Promise<Responses> {
    return this.until(() => {
      const all = parseResponses(this.received, methods, this.closed).filter((r) => withInterim || r.status >= 200);
      return all.length >= n ? (all as Responses) : undefined;
    }, `no ${n} responses`);
  }

  ended(): Promise<true> {
    return this.until(() => (this.closed ? true : undefined), 'the connection did not end');
  }

  destroy(): void {
    this.socket.destroy();
  }

  private notify() {
    for (const w of [...this.watchers]) w();
  }
}

const opened: TcpSocket[] = [];
const ioClients: IoSocket[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const json = (r: RawResponse) => JSON.parse(r.body) as { success: boolean; error?: { code: string }; [k: string]: unknown };
const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

function closeAllRaw() {
  for (const s of opened.splice(0)) s.destroy();
  for (const c of ioClients.splice(0)) c.close();
}

function world(env: Record<string, string | undefined> = {}) {
  return startTestWorld({
    listen: true,
    store: new MemoryStore(systemClock),
    env: { ESCROW_RECEIVER_ADDRESS: undefined, SHKEEPER_WEBHOOK_SECRET: WEBHOOK_SECRET, ...env },
  });
}

describe('the real server at the HTTP level', () => {
  let w: ListeningWorld;
  beforeAll(async () => {
    w = await world();
  });
  afterAll(async () => {
    closeAllRaw();
    await w?.stop();
  });

  it('answers pipelined requests written in one TCP write, in order, on one connection', async () => {
    const c = await RawConnection.open(w.url);
    c.write(get(HEALTH) + get(HEALTH, 'X-Request-Id: second\r\n') + get('/api/payment/not-a-route/at-all', 'Connection: close\r\n'));
    const [first, second, third] = await c.responses(3);
    expect([first.status, second.status, third.status]).toEqual([200, 200, 404]);
    expect(json(first)).toMatchObject({ success: true, message: 'payment service is healthy' });
    expect(second.headers['x-request-id']).toBe('second');
    expect(first.headers['x-request-id']).not.toBe('second');
    expect(json(third)).toMatchObject({ success: false, error: { code: 'route_not_found' } });
    expect(third.headers.connection).toBe('close');
    await c.ended();
    expect(parseResponses(c.received, [], true)).toHaveLength(3);
  });

  it('reads a chunked body sent in delayed pieces, and refuses it with the route’s documented answer', async () => {
    // The webhook reads the raw bytes and checks the signature: unsigned → 401 invalid_signature.
    const hook = await RawConnection.open(w.url);
    hook.write(`POST ${WEBHOOK} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    for (const piece of ['{"external_id":', '"abc",', '"status":"PAID"}']) {
      await sleep(30);
      hook.write(`${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`);
    }
    expect(hook.received.length).toBe(0); // nothing is answered before the body ends
    hook.write('0\r\n\r\n');
    const [refused] = await hook.responses(1);
    expect(refused.status).toBe(401);
    expect(json(refused)).toEqual({ success: false, error: { code: 'invalid_signature', message: 'the webhook signature is missing or invalid' } });

    // A JSON route: the pieces are joined before parsing (a key split across chunks), then validated.
    const cfg = await RawConnection.open(w.url);
    cfg.write('POST /api/payment/configuration HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (const piece of ['{"not', 'AField":', '1}']) {
      await sleep(20);
      cfg.write(`${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`);
    }
    cfg.write('0\r\n\r\n');
    const [invalid] = await cfg.responses(1);
    expect(invalid.status).toBe(400);
    expect(json(invalid).error?.code).toBe('validation_error');
    // On the same connection, a malformed body in pieces: 400 malformed_json, and the connection stays usable.
    cfg.write('POST /api/payment/configuration HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    cfg.write('3\r\n{"a\r\n');
    await sleep(20);
    cfg.write('2\r\n":\r\n0\r\n\r\n');
    const [, malformed] = await cfg.responses(2);
    expect(malformed.status).toBe(400);
    expect(json(malformed).error?.code).toBe('malformed_json');
    cfg.write(get(HEALTH, 'Connection: close\r\n'));
    const [, , healthAfter] = await cfg.responses(3);
    expect(healthAfter.status).toBe(200);
  });

  it('survives a client that aborts mid-body, and answers the next request', async () => {
    const requests: string[] = [];
    const seen = (req: { url?: string }) => void requests.push(req.url ?? '');
    w.server.httpServer.prependListener('request', seen);
    try {
      for (const framing of ['Transfer-Encoding: chunked', 'Content-Length: 1000']) {
        const c = await RawConnection.open(w.url);
        c.write(`POST ${WEBHOOK} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`);
        c.write(framing.startsWith('Transfer') ? '5\r\n{"a":\r\n' : '{"a":');
        await c.until(() => (requests.includes(WEBHOOK) ? true : undefined), 'the request did not reach the server');
        c.destroy();
        requests.length = 0;
      }
    } finally {
      w.server.httpServer.off('request', seen);
    }
    await sleep(20);
    const after = await fetch(`${w.url}${HEALTH}`);
    expect(after.status).toBe(200);
    expect(((await after.json()) as { success: boolean }).success).toBe(true);
    const hook = await fetch(`${w.url}${WEBHOOK}`, { method: 'POST', body: '{}' });
    expect(hook.status).toBe(401);
  });

  it('answers Expect: 100-continue with 100 Continue, then the final response to the body', async () => {
    const c = await RawConnection.open(w.url);
    const body = '{"notAField":1}';
    c.write(
      'POST /api/payment/configuration HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
    );
    const [interim] = await c.responses(1, [], true);
    expect(interim.status).toBe(100);
    c.write(body);
    const all = await c.responses(2, [], true);
    expect(all.map((r) => r.status)).toEqual([100, 400]);
    expect(json(all[1]).error?.code).toBe('validation_error');

    // And to the webhook (raw body route): the same, with its own refusal.
    c.write(`POST ${WEBHOOK} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
    await c.until(() => (parseResponses(c.received).length >= 3 ? true : undefined), 'no second 100 Continue');
    c.write('{}');
    const final = await c.responses(4, [], true);
    expect(final.map((r) => r.status)).toEqual([100, 400, 100, 401]);
  });

  it('answers HEAD on the health route with 200, the GET headers and no body', async () => {
    const c = await RawConnection.open(w.url);
    // HEAD, then GET on the same connection: were a body sent after the HEAD, the GET would be misread.
    c.write(`HEAD ${HEALTH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n` + get(HEALTH, 'Connection: close\r\n'));
    await c.ended();
    const [head, getRes] = await c.responses(2, ['HEAD', 'GET']);
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-type']).toMatch(/^application\/json/);
    expect(getRes.status).toBe(200);
    expect(json(getRes).success).toBe(true);
    expect(parseResponses(c.received, ['HEAD', 'GET'], true)).toHaveLength(2);

    const viaFetch = await fetch(`${w.url}${HEALTH}`, { method: 'HEAD' });
    expect(viaFetch.status).toBe(200);
    expect(await viaFetch.text()).toBe('');
  });

  it('answers a malformed request line or header with Node’s 400 and keeps serving other connections', async () => {
    const garbage = [
      'GARBAGE\r\n\r\n',
      'GET /api/payment/health HTTP/9.9\r\nHost: x\r\n\r\n',
      'GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /api/payment/health HTTP/1.1\r\nHost: x\r\nBad\u0001Header: y\r\n\r\n',
      'GET /api/payment/health HTTP/1.1\r\nHost: x\r\nX-Ok: va\u0000lue\r\n\r\n',
      'GET /api/payment/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'GET /api/payment/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
      // HTTP/1.1 without Host (Node's requireHostHeader), and a method llhttp does not know.
      'GET /api/payment/health HTTP/1.1\r\nConnection: close\r\n\r\n',
      'BREW /api/payment/health HTTP/1.1\r\nHost: x\r\n\r\n',
    ];
    const keep = await RawConnection.open(w.url);
    for (const bad of garbage) {
      const c = await RawConnection.open(w.url);
      c.write(Buffer.from(bad, 'latin1'));
      await c.ended();
      const [res] = await c.responses(1);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.headers.connection).toBe('close');
      // Node's own answer: the app never saw it (its answers carry X-Request-Id).
      expect(res.headers['x-request-id']).toBeUndefined();
    }
    // Headers over Node's limit (16 KiB): 431 from Node.
    const big = await RawConnection.open(w.url);
    big.write(`GET ${HEALTH} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await big.ended();
    expect(parseResponses(big.received, [], true)[0]?.status).toBe(431);
    // An absolute-form target is a valid request: the app routes it by its path.
    const absolute = await RawConnection.open(w.url);
    absolute.write(`GET http://127.0.0.1${HEALTH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const [abs] = await absolute.responses(1);
    expect(abs.status).toBe(200);
    // A connection opened before all that is still served, and so is a new one.
    keep.write(get(HEALTH, 'Connection: close\r\n'));
    const [kept] = await keep.responses(1);
    expect(kept.status).toBe(200);
    expect((await fetch(`${w.url}${HEALTH}`)).status).toBe(200);
  });

  it('still serves Socket.IO on the same server: the polling handshake and a websocket connection', async () => {
    const handshake = await fetch(`${w.url}/socket.io/?EIO=4&transport=polling`);
    expect(handshake.status).toBe(200);
    const text = await handshake.text();
    expect(text.startsWith('0{')).toBe(true);
    const open = JSON.parse(text.slice(1)) as { sid: string; upgrades: string[] };
    expect(open.sid).toMatch(/\S/);
    expect(open.upgrades).toContain('websocket');
    // Engine.io's own refusal of an unknown transport, not the app's 404.
    const unknown = await fetch(`${w.url}/socket.io/?EIO=4&transport=carrier-pigeon`);
    expect(unknown.status).toBe(400);

    for (const transports of [['websocket'], ['polling']] as const) {
      const client = ioConnect(w.url, { auth: { token: w.tokens.sign({ sub: 'buyer-1' }) }, transports: [...transports], reconnection: false });
      ioClients.push(client);
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('connect_error', reject);
      });
      expect(client.connected).toBe(true);
      expect(await client.emitWithAck('join-request', 'not-an-id')).toEqual({ ok: false, error: 'forbidden' });
      client.close();
    }
    // A WebSocket upgrade anywhere else is not the app's: Socket.IO (destroyUpgrade) closes it unanswered after ~1 s.
    const stray = await RawConnection.open(w.url);
    stray.write(
      `GET ${HEALTH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await stray.ended();
    expect(stray.received.length).toBe(0);
    // The HTTP API still answers next to it.
    expect((await fetch(`${w.url}${HEALTH}`)).status).toBe(200);
  });

  it('keeps Express’s request getters working: query, path, hostname', async () => {
    const auth = w.bearer('buyer-1');
    const page = await fetch(`${w.url}/api/payment?limit=2&offset=3&status=pending,processing`, { headers: { authorization: auth } });
    expect(page.status).toBe(200);
    expect(await page.json()).toEqual({ success: true, data: { payments: [], total: 0, limit: 2, offset: 3 } });
    const outOfRange = await fetch(`${w.url}/api/payment?limit=999`, { headers: { authorization: auth } });
    expect(outOfRange.status).toBe(400);
    expect(((await outOfRange.json()) as { error: { code: string } }).error.code).toBe('validation_error');
    // req.path in the 404's message excludes the query string.
    const missing = await fetch(`${w.url}/api/payment/nowhere/at-all?page=2`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ success: false, error: { code: 'route_not_found', message: 'no route for GET /api/payment/nowhere/at-all' } });
  });
});

describe('req.ip and the access log through the real server', () => {
  let w: ListeningWorld;
  afterAll(async () => {
    closeAllRaw();
    await w?.stop();
  });

  it('keys the per-IP limit on req.ip (X-Forwarded-For with TRUST_PROXY) and logs every request', async () => {
    w = await startTestWorld({
      listen: true,
      store: new MemoryStore(systemClock),
      captureLogs: true,
      env: { ESCROW_RECEIVER_ADDRESS: undefined, TRUST_PROXY: 'loopback', RATE_LIMIT_PER_IP: '1' },
    });
    // Any API path counts against the caller's IP; an unknown one answers 404.
    const from = (ip: string) => fetch(`${w.url}/api/payment/no-such-thing?x=1`, { headers: { 'x-forwarded-for': ip } });
    expect((await from('203.0.113.7')).status).toBe(404);
    const limited = await from('203.0.113.7');
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    // Another client IP behind the same proxy has its own budget.
    expect((await from('203.0.113.8')).status).toBe(404);

    const access = w.logs
      .map((l) => JSON.parse(l) as { msg?: string; req?: { method: string; url: string }; res?: { statusCode: number } })
      .filter((l) => l.req?.url === '/api/payment/no-such-thing?x=1');
    expect(access.map((l) => [l.msg, l.req?.method, l.res?.statusCode])).toEqual([
      ['request completed', 'GET', 404],
      ['request completed', 'GET', 429],
      ['request completed', 'GET', 404],
    ]);
  });
});

describe('draining', () => {
  let w: ListeningWorld;
  afterAll(async () => {
    closeAllRaw();
    await w?.stop();
  });

  it('answers a request arriving on an open keep-alive connection after close() began with 503 shutting_down and connection: close', async () => {
    w = await world();
    const c = await RawConnection.open(w.url);
    // The connection is kept alive and busy: a request whose body has not all arrived yet.
    const arrived = new Promise<void>((resolve) => w.server.httpServer.prependOnceListener('request', () => resolve()));
    c.write(`POST ${WEBHOOK} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{`);
    await arrived;

    const closing = w.server.close(2_000);
    // The rest of the body, and a second request on the same connection.
    c.write('}' + get(HEALTH));
    const [first, second] = await c.responses(2);
    // The request that was already in flight is finished by the app.
    expect(first.status).toBe(401);
    expect(json(first).error?.code).toBe('invalid_signature');
    // The one that arrived while draining gets the documented refusal.
    expect(second.status).toBe(503);
    expect(second.headers.connection).toBe('close');
    expect(second.headers['retry-after']).toBe('1');
    expect(second.headers['content-type']).toBe('application/json');
    expect(json(second)).toEqual({ success: false, error: { code: 'shutting_down', message: 'this instance is shutting down; retry' } });
    await c.ended();
    await closing;
    expect(w.server.httpServer.listening).toBe(false);
  });
});
