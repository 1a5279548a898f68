import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server as SocketServer } from 'socket.io';
import { createApp } from './app.js';
import { fail, httpStatusOf } from '../platform/errors.js';
import { errorBody } from '../platform/http/errorHandler.js';
import type { AppServices } from './app.js';
import type { AppDeps } from './composition.js';
import type { PaymentEvents } from '../core/events/paymentEvents.js';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import { createSocketServer, SocketIoEvents } from '../adapters/socket/socketServer.js';
import { expressMessageClasses } from '../platform/http/messageClasses.js';

export interface RunningServer {
  httpServer: HttpServer;
  io: SocketServer;
  ctx: AppServices;
  port: number;
  url: string;
  /** Stops accepting, lets in-flight requests finish (bounded), closes sockets and monitors. */
  close(timeoutMs?: number): Promise<void>;
}

/** One HTTP server carrying both the REST API and Socket.IO. The store is the caller's to close. */
export async function startServer(
  deps: Omit<AppDeps, 'events'> & { observer?: PaymentEvents; pubSub?: { pub: Redis; sub: Redis } },
  listen: { port: number; host: string },
): Promise<RunningServer> {
  const events = new SocketIoEvents(deps.observer);
  const app = createApp({ ...deps, events });
  const ctx = app.locals.ctx;
  let draining = false;
  // Requests and responses are made with the app's prototypes, so Express does not swap them per request.
  // While shutting down, a request arriving on a connection still in use (an answer in flight, or
  // pipelined behind one) gets a clear 503; idle kept-alive connections are closed instead
  // (closeIdleConnections below), as Node does, and their clients retry elsewhere.
  const httpServer = createServer(expressMessageClasses(app), (req, res) => {
    if (!draining) return app(req, res);
    const refusal = fail('shutting_down');
    res.writeHead(httpStatusOf(refusal.kind), { 'content-type': 'application/json', connection: 'close', 'retry-after': '1' });
    res.end(JSON.stringify(errorBody(refusal)));
  });
  const io = createSocketServer(httpServer, { tokens: ctx.tokens, store: deps.store, logger: deps.logger });
  // With Redis, an event emitted on any instance reaches its room's clients on every instance.
  if (deps.pubSub) io.adapter(createAdapter(deps.pubSub.pub, deps.pubSub.sub));
  events.attach(io);

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(listen.port, listen.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  // The first lease attempt is settled before the monitors start, so a leader's start-up passes run.
  await ctx.leader?.start();
  ctx.monitors.startAll();

  let closing: Promise<void> | undefined;
  const close = (timeoutMs = deps.config.shutdownTimeoutMs) =>
    (closing ??= (async () => {
      draining = true;
      await ctx.monitors.stopAll();
      await ctx.leader?.stop();
      const drained = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      io.local.disconnectSockets(true);
      const timer = setTimeout(() => httpServer.closeAllConnections(), timeoutMs);
      await drained;
      clearTimeout(timer);
      io.engine.close();
    })());

  return { httpServer, io, ctx, port, url: `http://127.0.0.1:${port}`, close };
}
