import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { Logger } from '../../platform/logger.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { Principal } from '../../platform/auth/tokens.js';
import { isObjectId } from '../../platform/ids.js';
import type { Store } from '../../core/store/store.js';
import {
  ADMINS_ROOM,
  roomOf,
  targetList,
  type EventTargets,
  type PaymentEventName,
  type PaymentEventPayloads,
  type PaymentEvents,
} from '../../core/events/paymentEvents.js';

/**
 * Socket.IO on the service's own HTTP server. The handshake carries the same JWT as the REST API
 * (`auth: { token }`). Each client is put in `user:<id>` and `seller:<id>`, and an admin in `admins`
 * too; it may join `request:<purchaseRequestId>` only as the request's buyer, a seller with an
 * offer on it, or an admin. No event goes to every socket.
 */
export function createSocketServer(httpServer: HttpServer, deps: { tokens: TokenService; store: Store; logger: Logger }) {
  const io = new Server(httpServer, { path: '/socket.io', serveClient: false });
  const log = deps.logger.child({ module: 'socket' });

  io.use((socket, next) => {
    const token: unknown = socket.handshake.auth?.token;
    try {
      if (typeof token !== 'string') throw new Error('missing token');
      socket.data.principal = deps.tokens.verify(token);
      next();
    } catch {
      next(new Error('unauthorized'));
    }
  });

  io.on('connection', (socket) => {
    const principal = socket.data.principal as Principal;
    const rooms = [roomOf({ kind: 'user', id: principal.userId }), roomOf({ kind: 'seller', id: principal.userId })];
    if (principal.isAdmin) rooms.push(ADMINS_ROOM);
    void socket.join(rooms);

    socket.on('join-request', async (purchaseRequestId: unknown, ack?: (r: unknown) => void) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      try {
        if (!isObjectId(purchaseRequestId) || !(await isParty(deps.store, principal, purchaseRequestId))) {
          reply({ ok: false, error: 'forbidden' });
          return;
        }
        await socket.join(roomOf({ kind: 'request', id: purchaseRequestId }));
        reply({ ok: true });
      } catch (err) {
        log.error({ err }, 'join-request failed');
        reply({ ok: false, error: 'unavailable' });
      }
    });

    socket.on('leave-request', async (purchaseRequestId: unknown) => {
      if (isObjectId(purchaseRequestId)) await socket.leave(roomOf({ kind: 'request', id: purchaseRequestId }));
    });
  });

  return io;
}

async function isParty(store: Store, principal: Principal, purchaseRequestId: string): Promise<boolean> {
  if (principal.isAdmin) return true;
  const request = await store.purchaseRequests.findById(purchaseRequestId);
  if (!request) return false;
  if (request.buyerId === principal.userId) return true;
  return (await store.sellerOffers.count({ purchaseRequestId, sellerId: principal.userId })) > 0;
}

/**
 * Emits into a Socket.IO server once one is attached; until then (or without one) emits nowhere.
 * An optional observer sees every emission too (metrics, tests counting what was announced).
 */
export class SocketIoEvents implements PaymentEvents {
  private io?: Server;

  constructor(private readonly observer?: PaymentEvents) {}

  attach(io: Server): void {
    this.io = io;
  }

  emit<E extends PaymentEventName>(target: EventTargets, event: E, payload: PaymentEventPayloads[E]): void {
    this.observer?.emit(target, event, payload);
    if (!this.io) return;
    const rooms = [...new Set(targetList(target).map(roomOf))];
    // One broadcast to all the rooms: Socket.IO (and its Redis adapter) delivers it once to a
    // socket that is in several of them.
    if (rooms.length > 0) this.io.to(rooms).emit(event, payload);
  }
}
