import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { expressMessageClasses } from '../../src/platform/http/messageClasses.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import { systemClock } from '../../src/platform/clock.js';
import { startTestWorld, type ListeningWorld } from '../helpers/testWorld.js';

/**
 * The app's http server makes its requests and responses with Express's prototypes, so Express's
 * per-request `Object.setPrototypeOf` changes nothing (src/platform/http/messageClasses.ts).
 * What must hold: the objects are born with the app's prototypes, are still Node's request and
 * response (instanceof, streams, keep-alive), and everything Express adds works as before.
 */

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A bare app on a server made with `expressMessageClasses`, recording what each request was born as. */
async function serve(app: express.Express) {
  const server = createServer(expressMessageClasses(app), app);
  const born: { reqProto: boolean; resProto: boolean }[] = [];
  // Runs before Express (the app is the first 'request' listener; this one is put in front).
  server.prependListener('request', (req, res) => {
    born.push({ reqProto: Object.getPrototypeOf(req) === app.request, resProto: Object.getPrototypeOf(res) === app.response });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, born };
}

describe('expressMessageClasses', () => {
  it("makes requests and responses with the app's prototypes before Express sees them, still Node's own", async () => {
    const app = express();
    let seen: Record<string, unknown> = {};
    app.get('/things/:id', (req, res) => {
      seen = {
        reqIsIncoming: req instanceof IncomingMessage,
        resIsResponse: res instanceof ServerResponse,
        reqProto: Object.getPrototypeOf(req) === app.request,
        resProto: Object.getPrototypeOf(res) === app.response,
      };
      res.status(201).json({ id: req.params.id, q: req.query.q, path: req.path, host: req.hostname });
    });
    const { url, born } = await serve(app);
    const res = await fetch(`${url}/things/abc?q=1`);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ id: 'abc', q: '1', path: '/things/abc', host: '127.0.0.1' });
    expect(born).toEqual([{ reqProto: true, resProto: true }]);
    expect(seen).toEqual({ reqIsIncoming: true, resIsResponse: true, reqProto: true, resProto: true });
  });

  it('reads bodies, answers HEAD and unknown paths, and keeps a connection alive across requests', async () => {
    const app = express();
    app.post('/echo', express.raw({ type: () => true }), (req, res) => {
      res.status(202).type('application/octet-stream').send(req.body);
    });
    const { url, born } = await serve(app);
    const body = Buffer.from('x'.repeat(70_000));
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/echo`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
      expect(res.status).toBe(202);
      expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
    }
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    expect((await fetch(`${url}/echo`, { method: 'HEAD' })).status).toBe(404);
    expect(born.every((b) => b.reqProto && b.resProto)).toBe(true);
    expect(born).toHaveLength(5);
  });

  it('gives each app its own prototypes', async () => {
    const a = express();
    const b = express();
    a.get('/', (_req, res) => res.send('a'));
    b.get('/', (_req, res) => res.send('b'));
    const [sa, sb] = [await serve(a), await serve(b)];
    expect(await (await fetch(sa.url)).text()).toBe('a');
    expect(await (await fetch(sb.url)).text()).toBe('b');
    expect(sa.born).toEqual([{ reqProto: true, resProto: true }]);
    expect(sb.born).toEqual([{ reqProto: true, resProto: true }]);
  });
});

describe("the service's server", () => {
  let w: ListeningWorld;
  afterAll(async () => w?.stop());

  it("makes its requests with the app's prototypes and answers as before", async () => {
    w = await startTestWorld({ listen: true, store: new MemoryStore(systemClock), env: { ESCROW_RECEIVER_ADDRESS: undefined } });
    const protos: boolean[] = [];
    w.server.httpServer.prependListener('request', (req) => {
      // Before Express runs: a stock server's request is a plain IncomingMessage, without Express's methods.
      protos.push(
        req instanceof IncomingMessage && Object.getPrototypeOf(req) !== IncomingMessage.prototype && typeof (req as express.Request).accepts === 'function',
      );
    });
    const health = await fetch(`${w.url}/api/payment/health`);
    expect(health.status).toBe(200);
    const unknown = await fetch(`${w.url}/api/payment/not-a-route/at-all`);
    expect(unknown.status).toBe(404);
    expect((await unknown.json()) as unknown).toMatchObject({ success: false });
    expect(protos).toEqual([true, true]);
  });
});
