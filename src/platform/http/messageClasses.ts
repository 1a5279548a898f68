import { IncomingMessage, ServerResponse, type ServerOptions } from 'node:http';
import type { Express } from 'express';

/**
 * `http.createServer` options whose request and response objects are born with an Express app's
 * own prototypes (`app.request`, `app.response`), so that Express never has to change them.
 *
 * Why: Express 5's `app.handle` runs `Object.setPrototypeOf(req, app.request)` and the same for
 * `res` on every request (lib/application.js). Changing the prototype of an object that already
 * exists is the slow path of every JavaScript engine (MDN, "Object.setPrototypeOf"; measured and
 * discussed in expressjs/express#5998 and nodejs/node#37457). On this machine it also made about
 * a third of each request's short-lived objects survive two scavenges, so they were promoted and
 * the old generation grew by fresh pages, and every fresh 4 KiB page costs a ~12 µs fault here.
 * With the prototypes already in place, Express's call changes nothing (ECMA-262
 * OrdinarySetPrototypeOf returns at once when the prototype is the same). A Node http server
 * answering through Express measured 150 µs of CPU per request before and 44 µs after
 * (issue 15's notes); the bench shows it on both sections.
 *
 * The classes are plain constructor functions calling Node's own (`IncomingMessage` and
 * `ServerResponse` are ES5 constructors, callable with `call`), documented as replaceable by
 * `http.createServer`'s `IncomingMessage`/`ServerResponse` options for exactly this: objects
 * that extend Node's. `Reflect.construct` would work with a class too, but measured several times
 * slower than the prototype change it replaces. Should a future Node make them classes, no
 * options are returned and Express sets the prototypes itself, as it always has.
 */
export function expressMessageClasses(app: Pick<Express, 'request' | 'response'>): ServerOptions {
  if (isClass(IncomingMessage) || isClass(ServerResponse)) return {};
  // Node constructs them as `new IncomingMessage(socket)` and `new ServerResponse(req, options)`.
  function AppRequest(this: IncomingMessage, socket: unknown) {
    (IncomingMessage as unknown as Constructor).call(this, socket);
  }
  AppRequest.prototype = app.request;
  function AppResponse(this: ServerResponse, req: unknown, options: unknown) {
    (ServerResponse as unknown as Constructor).call(this, req, options);
  }
  AppResponse.prototype = app.response;
  return {
    IncomingMessage: AppRequest as unknown as typeof IncomingMessage,
    ServerResponse: AppResponse as unknown as typeof ServerResponse,
  };
}

/** An ES5 constructor, as called by a subclass written without `class`. */
type Constructor = (this: unknown, ...args: unknown[]) => void;

function isClass(f: unknown): boolean {
  return typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));
}
