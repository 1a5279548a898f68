import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { fixedHeaders } from '../../src/platform/http/fixedHeaders.js';
import { installRequestLog, requestLogger } from '../../src/platform/http/requestLogger.js';
import { inSequence } from '../../src/platform/http/inSequence.js';

/** An app with the request logger as createApp mounts it, every line kept as parsed JSON. */
function loggedApp(routes: (app: express.Express) => void) {
  const raw: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void raw.push(line) });
  const finished: string[] = [];
  const app = express();
  installRequestLog(app.request);
  app.use(requestLogger(logger, { ignore: (url) => url === '/quiet', onFinish: (req, res) => finished.push(`${req.method} ${res.statusCode}`) }));
  routes(app);
  const lines = () => raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { app, raw, lines, finished };
}

describe('request logging', () => {
  it('one access line per request, with the id it echoes in X-Request-Id, laid out as the child-logger line was', async () => {
    const { app, raw, finished } = loggedApp((a) => a.get('/thing', (_req, res) => void res.json({ ok: true })));
    const given = await request(app).get('/thing?x=1').set('X-Request-Id', 'abc-123');
    const made = await request(app).get('/thing').set('X-Request-Id', 'not ok!');
    expect(given.headers['x-request-id']).toBe('abc-123');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(raw).toHaveLength(2);
    // Byte layout: the keys in the order pino printed them for `req.log.info(line)` with { reqId } bound.
    expect(raw[0]).toMatch(
      /^\{"level":30,"time":"[^"]+","service":"escrow-payment","reqId":"abc-123","req":\{"method":"GET","url":"\/thing\?x=1"\},"res":\{"statusCode":200\},"responseTime":\d+,"msg":"request completed"\}\n$/,
    );
    expect(JSON.parse(raw[1]!).reqId).toBe(made.headers['x-request-id']);
    expect(finished).toEqual(['GET 200', 'GET 200']);
  });

  it('a 5xx is logged as failed; req.log carries the request id and keeps the redaction', async () => {
    const { app, lines } = loggedApp((a) =>
      a.get('/boom', (req, res) => {
        req.log.error({ detail: { authorization: 'Bearer secret', note: 'kept' } }, 'handler failed');
        res.status(503).json({ ok: false });
      }),
    );
    await request(app).get('/boom').set('X-Request-Id', 'r-5');
    const [own, access] = lines();
    expect(own).toMatchObject({ level: 50, reqId: 'r-5', msg: 'handler failed', detail: { authorization: '[redacted]', note: 'kept' } });
    expect(access).toMatchObject({ level: 50, reqId: 'r-5', res: { statusCode: 503 }, msg: 'request failed' });
  });

  it('ignored urls are counted but not logged; no child logger is made for a request that logs nothing else', async () => {
    const { app, raw, finished } = loggedApp((a) => a.get('/quiet', (_req, res) => void res.json({})));
    await request(app).get('/quiet');
    expect(raw).toEqual([]);
    expect(finished).toEqual(['GET 200']);
  });

  it('a request the client abandons before the answer is logged as aborted and not counted as finished', async () => {
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const { app, lines, finished } = loggedApp((a) => a.get('/slow', () => arrived()));
    const server = createServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\nX-Request-Id: gone-1\r\n\r\n');
    await reached;
    socket.destroy();
    await expect.poll(() => lines().length).toBe(1);
    server.close();
    expect(lines()[0]).toMatchObject({ level: 40, reqId: 'gone-1', msg: 'request aborted before the response was sent' });
    expect(finished).toEqual([]);
  });
});

describe('fixedHeaders', () => {
  const options = (tls: boolean) =>
    ({
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      strictTransportSecurity: tls,
      crossOriginEmbedderPolicy: false,
      xFrameOptions: false,
      xXssProtection: false,
    }) as const;

  it.each([false, true])('sends exactly the headers and values helmet sends per request, in the same order (HSTS %s)', async (tls) => {
    const pairs = async (mw: express.RequestHandler) => {
      const app = express();
      app.use(mw);
      app.get('/', (_req, res) => void res.json({}));
      const r = await request(app).get('/');
      const raw = (r as unknown as { res: { rawHeaders: string[] } }).res.rawHeaders;
      const out: string[] = [];
      for (let i = 0; i < raw.length; i += 2) if (!/^(date|etag|content-length|connection|keep-alive)$/i.test(raw[i]!)) out.push(`${raw[i]}: ${raw[i + 1]}`);
      return out;
    };
    const fixed = await pairs(fixedHeaders(helmet(options(tls))));
    expect(fixed).toEqual(await pairs(helmet(options(tls))));
    expect(fixed.some((h) => h.startsWith('Content-Security-Policy'))).toBe(true);
    expect(fixed.some((h) => /^x-powered-by/i.test(h))).toBe(false);
  });

  it('refuses at start a middleware whose headers would depend on the request', () => {
    expect(() => fixedHeaders((req, _res, next) => (req.headers.host ? next() : next()))).toThrow(/read the request/);
    expect(() => fixedHeaders(() => undefined)).toThrow(/did not call next/);
    expect(() => fixedHeaders(helmet({ contentSecurityPolicy: { directives: { scriptSrc: [(req) => String(req.url)] } } }))).toThrow(/fixedHeaders/);
  });
});

describe('inSequence', () => {
  it('runs the handlers in order as one layer; an error skips the rest and reaches the error handler', async () => {
    const seen: string[] = [];
    const step =
      (name: string, fail = false): express.RequestHandler =>
      (_req, _res, next) => {
        seen.push(name);
        next(fail ? new Error(name) : undefined);
      };
    const app = express();
    app.use(inSequence(step('a'), step('b', true), step('c')));
    app.get('/', (_req, res) => void res.json({}));
    app.use(((err: Error, _req, res, _next) => void res.status(500).json({ error: err.message })) as express.ErrorRequestHandler);
    const r = await request(app).get('/');
    expect(r.body).toEqual({ error: 'b' });
    expect(seen).toEqual(['a', 'b']);

    const thrower = express();
    thrower.use(
      inSequence(step('x'), () => {
        throw new Error('thrown');
      }),
    );
    thrower.use(((err: Error, _req, res, _next) => void res.status(500).json({ error: err.message })) as express.ErrorRequestHandler);
    expect((await request(thrower).get('/')).body).toEqual({ error: 'thrown' });
  });
});
