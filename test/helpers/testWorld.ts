import type { ChainNetworks } from '../../src/core/chain/chainNetworks.js';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import request, { type Response, type Test } from 'supertest';
import { createApp, type AppServices } from '../../src/app/app.js';
import { startServer, type RunningServer } from '../../src/app/server.js';
import { createChainGateway } from '../../src/adapters/chain/chainGateway.js';
import { createHotWallet, type HotWallet } from '../../src/adapters/chain/hotWallet.js';
import { createPubSub, createRedis } from '../../src/adapters/redis/redis.js';
import { createShkeeperClient, type ShkeeperClient } from '../../src/adapters/shkeeper/shkeeperClient.js';
import type { ChainGateway } from '../../src/core/chain/chainTypes.js';
import type { EventTargets, PaymentEventName, PaymentEventPayloads, PaymentEvents } from '../../src/core/events/paymentEvents.js';
import type { PaymentRecord } from '../../src/core/store/records.js';
import type { Store } from '../../src/core/store/store.js';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { systemClock, type Clock } from '../../src/platform/clock.js';
import { configFrom, type Config } from '../../src/platform/config.js';
import { createLogger, type Logger } from '../../src/platform/logger.js';
import type { IntervalMonitor } from '../../src/platform/monitors/intervalMonitor.js';
import type { LocalChain } from './chain/localChain.js';
import { freePort } from './childService.js';
import { FakeShkeeper } from './fakeShkeeper/fakeShkeeper.js';
import type { FakeShkeeperOptions } from './fakeShkeeper/options.js';
import { RecordingEvents } from './recordingEvents.js';
import type { LocalRedis } from './redisServer.js';
import { testStore } from './testStore.js';

/**
 * The one way a test starts the service: config, store, clock, events and the adapters that
 * differ per suite are wired here and handed to `createApp` exactly as the entry point hands
 * them, in process (supertest) or behind a real server on a free 127.0.0.1 port (`listen`,
 * for Socket.IO, the fake SHKeeper's callbacks, monitors and several instances).
 *
 *   const w = await startTestWorld({ env: { RATE_LIMIT_PER_IP: '3' } });
 *   const res = await w.as('buyer-1').post('/shkeeper/intents', body);
 *   expect(dataOf<{ paymentId: string }>(res).paymentId).toBeTruthy();
 */

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-0123456789';
export const ESCROW = '0x00000000000000000000000000000000000e5c40';
/** Monitors exist but never tick during a test (their timers fire after an hour). */
export const QUIET_MONITORS = {
  AUTO_WEBHOOK_INTERVAL_MS: '3600000',
  WALLET_MONITOR_INTERVAL_MS: '3600000',
  PAYOUT_RECONCILER_INTERVAL_MS: '3600000',
};

export interface TestWorldOptions {
  /** Environment on top of the test defaults (JWT secret, escrow receiver, and what the options below imply). */
  env?: Record<string, string | undefined>;
  /** Several networks (issue 18), built and checked as the entry point does; default: the registry of `env` with `chain` as its default network's gateway. */
  networks?: ChainNetworks;
  /** Default `testStore(clock)`: the in-process store, or the driver stand-in in the `driver` tier. A given store is the caller's to share. */
  store?: Store;
  /** What the app sees instead of the store itself (e.g. one with added latency); `world.store` stays the plain one. */
  wrapStore?: (store: Store) => Store;
  /** Default the system clock; a ManualClock for time-driven tests. */
  clock?: Clock;
  /** Where announcements are recorded; default a fresh RecordingEvents. */
  events?: RecordingEvents;
  /** Also told every announcement (e.g. a cluster's common record). */
  alsoTo?: PaymentEvents;
  /** A local chain: BSC_RPC_URL, BSC_CHAIN_ID (and 3 confirmations) point at it, with a chain gateway. */
  chain?: LocalChain;
  /** The chain's token configured as USDT (its decimals checked at start, as in production). */
  tokenAddress?: string;
  /** Where the chain gateway and hot wallet send RPC calls; default the chain's own URL. */
  rpcUrl?: string;
  /** A fake SHKeeper (a real HTTP server): started for this world (options), or a shared one it does not own. */
  shkeeper?: true | FakeShkeeperOptions | FakeShkeeper;
  /** A real server (HTTP + Socket.IO, monitors started) on a free port; required by `redis` and by a fake SHKeeper started here. */
  listen?: boolean;
  /** REDIS_URL: locks, monitor leadership, rate limits and the Socket.IO adapter on this redis-server. */
  redis?: LocalRedis;
  /** The instance's name among several (names its Redis connection). */
  name?: string;
  /** Keep every log line in `world.logs`. */
  captureLogs?: boolean;
  /** A logger of the caller's (e.g. one per cluster instance); default silent. */
  logger?: Logger;
}

/** What a request through the client resolves to (supertest's response: status, headers, body, text). */
export type ApiResponse = Response;

/** Who a request is sent as: a user id, an admin (`{ admin: id }`), or a raw Authorization value. */
export type Principal = string | { admin: string } | { authorization: string | undefined };

/** The service's JSON envelope. */
export type Envelope<T = unknown> = { success: true; data: T } | { success: false; error: { code: string; message: string } };

/**
 * Requests under /api/payment as one principal. Each returns supertest's request (add headers
 * with `.set`), which resolves to its response; a body is sent as JSON.
 */
export interface ApiClient {
  get(path: string): Test;
  post(path: string, body?: unknown): Test;
  put(path: string, body?: unknown): Test;
  patch(path: string, body?: unknown): Test;
  delete(path: string, body?: unknown): Test;
}

/** What every world has, in process or behind a real server. */
export interface World {
  ctx: AppServices;
  config: Config;
  /** The store as the test sees it (unwrapped). */
  store: Store;
  clock: Clock;
  events: RecordingEvents;
  tokens: TokenService;
  /** Every log line (with `captureLogs`). */
  logs: string[];
  shkeeper?: ShkeeperClient;
  chain?: ChainGateway;
  /** Built from ADMIN_WALLET_PRIVATE_KEY and the RPC exactly as main.ts builds it, when the config has both. */
  hotWallet?: HotWallet;
  /** Applies every webhook delivery recorded so far (the inbox answers SHKeeper first and applies after). */
  settle(): Promise<void>;
  /** `Authorization` value for a user (or an admin). */
  bearer(userId: string, opts?: { admin?: boolean; expiresIn?: number }): string;
  as(who: Principal): ApiClient;
  /** `as({ admin: 'admin-1' })`. */
  admin: ApiClient;
  anonymous: ApiClient;
  /** supertest at the root, for what is not under /api/payment (/metrics) or must be sent by hand. */
  http(): ReturnType<typeof request>;
  /** A registered interval monitor, by name. */
  monitor(name: string): IntervalMonitor;
  /** Stops what this world started (server, fake SHKeeper, RPC and Redis connections); idempotent. */
  stop(): Promise<void>;
}

/** The app in process (supertest drives it without a port). */
export interface TestWorld extends World {
  app: Express;
}

/** Behind a real server, which builds its own app. */
export interface ListeningWorld extends World {
  server: RunningServer;
  url: string;
  /** The fake SHKeeper (with the `shkeeper` option; reading it without one throws). */
  fake: FakeShkeeper;
  /** With `redis`: the lock/leadership/limits connection and the Socket.IO adapter's pair. */
  redis?: Redis;
  pubSub?: { pub: Redis; sub: Redis };
}

export const API = '/api/payment';

/** `data` of a success envelope, typed; fails the test with the answer when it is not one. */
export function dataOf<T = any>(res: { status: number; body: unknown; text?: string }): T {
  const body = res.body as Envelope<T>;
  if (body?.success !== true) throw new Error(`expected a success envelope, got ${res.status} ${res.text ?? JSON.stringify(res.body)}`);
  return body.data;
}

/** `error` of a failure envelope; fails the test with the answer when it is not one. */
export function errorOf(res: { status: number; body: unknown; text?: string }): { code: string; message: string } {
  const body = res.body as Envelope;
  if (body?.success !== false) throw new Error(`expected an error envelope, got ${res.status} ${res.text ?? JSON.stringify(res.body)}`);
  return body.error;
}

/**
 * The payment as stored, once the event relay has moved its announced events to the event log
 * (so its outbox reads the same whenever the relay happens to run); fails the test when it is gone.
 * A relay that cannot run (a store a test made fail) leaves the outbox as it is.
 */
export async function paymentOf(w: { store: Store; ctx?: { eventRelay: { drain(): Promise<void> } } }, id: string): Promise<PaymentRecord> {
  await w.ctx?.eventRelay.drain().catch(() => undefined);
  const p = await w.store.payments.findById(id);
  if (!p) throw new Error(`payment ${id} is gone`);
  return p;
}

/** Fans announcements out to several sinks. */
class Tee implements PaymentEvents {
  constructor(private readonly sinks: PaymentEvents[]) {}
  emit<E extends PaymentEventName>(target: EventTargets, event: E, payload: PaymentEventPayloads[E]): void {
    for (const s of this.sinks) s.emit(target, event, payload);
  }
}

async function ready(r: Redis, timeoutMs = 5_000): Promise<void> {
  if (r.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`redis connection not ready within ${timeoutMs} ms (${r.status})`)), timeoutMs);
    r.once('ready', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

function clientFor(target: () => ReturnType<typeof request>, authorization: string | undefined): ApiClient {
  const call = (method: 'get' | 'post' | 'put' | 'patch' | 'delete', path: string, body?: unknown): Test => {
    let req = target()[method](`${API}${path}`);
    if (authorization !== undefined) req = req.set('Authorization', authorization);
    if (body !== undefined) req = req.set('Content-Type', 'application/json').send(JSON.stringify(body));
    // Sent once the caller's chain (.set, .send) is built, whether or not it is awaited at once, as
    // fetch would: a test may hold a request in flight and look at the store meanwhile. supertest
    // keeps the one response for every later await.
    queueMicrotask(
      () =>
        void req.then(
          () => undefined,
          () => undefined,
        ),
    );
    return req;
  };
  return {
    get: (path) => call('get', path),
    post: (path, body) => call('post', path, body),
    put: (path, body) => call('put', path, body),
    patch: (path, body) => call('patch', path, body),
    delete: (path, body) => call('delete', path, body),
  };
}

export function startTestWorld(opts: TestWorldOptions & { listen: true }): Promise<ListeningWorld>;
export function startTestWorld(opts?: TestWorldOptions & { listen?: false }): Promise<TestWorld>;
export async function startTestWorld(opts: TestWorldOptions = {}): Promise<TestWorld | ListeningWorld> {
  // SHKeeper's callbacks and Redis's adapter need a server; a shared fake without callbacks does not.
  if (!opts.listen && (opts.redis || (opts.shkeeper && !(opts.shkeeper instanceof FakeShkeeper)))) {
    throw new Error('startTestWorld: a started fake SHKeeper and Redis need `listen: true`');
  }
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) await s();
  };
  try {
    const ownsFake = opts.shkeeper !== undefined && !(opts.shkeeper instanceof FakeShkeeper);
    const fake =
      opts.shkeeper instanceof FakeShkeeper
        ? opts.shkeeper
        : opts.shkeeper
          ? await FakeShkeeper.start({ callbackRetryMs: 20, ...(opts.shkeeper === true ? {} : opts.shkeeper) })
          : undefined;
    if (fake && ownsFake) stops.push(() => fake.stop());
    const port = opts.listen ? await freePort() : undefined;
    const rpcUrl = opts.rpcUrl ?? opts.chain?.rpcUrl;
    const config = configFrom({
      JWT_SECRET: TEST_JWT_SECRET,
      ESCROW_RECEIVER_ADDRESS: ESCROW,
      ...(port ? { PUBLIC_BASE_URL: `http://127.0.0.1:${port}` } : {}),
      ...(fake ? { SHKEEPER_API_URL: fake.url, SHKEEPER_API_KEY: fake.apiKey, SHKEEPER_USERNAME: fake.username, SHKEEPER_PASSWORD: fake.password } : {}),
      ...(opts.redis ? { REDIS_URL: opts.redis.url } : {}),
      ...(opts.chain && rpcUrl ? { BSC_RPC_URL: rpcUrl, BSC_CHAIN_ID: String(opts.chain.chainId), BSC_CONFIRMATIONS: '3' } : {}),
      ...(opts.tokenAddress ? { BSC_USDT_ADDRESS: opts.tokenAddress } : {}),
      ...opts.env,
    });
    const logs: string[] = [];
    const logger = opts.logger ?? (opts.captureLogs ? createLogger('trace', { write: (line: string) => void logs.push(line) }) : createLogger('silent'));
    const clock = opts.clock ?? systemClock;
    const store = opts.store ?? testStore(clock);
    const events = opts.events ?? new RecordingEvents();
    const observer = opts.alsoTo ? new Tee([events, opts.alsoTo]) : events;
    const shkeeper = fake
      ? createShkeeperClient({
          apiUrl: fake.url,
          apiKey: fake.apiKey,
          username: fake.username,
          password: fake.password,
          timeoutMs: 2_000,
          retryBaseDelayMs: 10,
          logger,
        })
      : undefined;
    const chain =
      opts.chain && rpcUrl
        ? createChainGateway({
            rpcUrl,
            chainId: opts.chain.chainId,
            logger,
            retries: 1,
            timeoutMs: 2_000,
            retryMinDelayMs: 20,
            // The start-up check of the token's decimals runs in tests too (only where a token was deployed).
            ...(opts.tokenAddress ? { token: { address: config.bsc.usdtAddress, decimals: config.bsc.usdtDecimals } } : {}),
          })
        : undefined;
    if (chain) stops.push(() => chain.close());
    const hotWallet =
      config.adminWalletPrivateKey && config.bsc.rpcUrl
        ? createHotWallet({ rpcUrl: config.bsc.rpcUrl, chainId: config.bsc.chainId, privateKey: config.adminWalletPrivateKey, logger })
        : undefined;
    const deps = { config, store: opts.wrapStore ? opts.wrapStore(store) : store, logger, clock, shkeeper, chain, hotWallet, networks: opts.networks };
    const tokens = new TokenService(TEST_JWT_SECRET);
    const bearer: World['bearer'] = (userId, o = {}) => `Bearer ${tokens.sign({ sub: userId, ...(o.admin ? { role: 'admin' } : {}) }, o.expiresIn ?? 600)}`;

    let app: Express | undefined;
    let server: RunningServer | undefined;
    let connections: { redis: Redis; pubSub: { pub: Redis; sub: Redis } } | undefined;
    if (opts.listen) {
      if (opts.redis) {
        const r = { redis: createRedis(opts.redis.url, logger, opts.name ? `main-${opts.name}` : 'main'), pubSub: createPubSub(opts.redis.url, logger) };
        const all = [r.redis, r.pubSub.pub, r.pubSub.sub];
        stops.push(() => Promise.all(all.map((c) => c.quit().catch(() => c.disconnect()))).then(() => undefined));
        // The entry point does not wait for these; a test does, so its first request finds Redis up.
        await Promise.all(all.map((c) => ready(c)));
        connections = r;
      }
      server = await startServer({ ...deps, ...connections, observer }, { port: port!, host: '127.0.0.1' });
      const s = server;
      stops.push(() => s.close(1_000));
    } else {
      app = createApp({ ...deps, events: observer });
      // The server starts every monitor; in process only the inbox's worker runs (as it does there, on a webhook's arrival).
      const inbox = app.locals.ctx.inbox.queue;
      inbox.start();
      stops.push(() => inbox.stop());
    }
    const ctx = server ? server.ctx : app!.locals.ctx;
    const root = server ? () => request(server.url) : () => request(app!);
    const as = (who: Principal) =>
      clientFor(root, typeof who === 'string' ? bearer(who) : 'admin' in who ? bearer(who.admin, { admin: true }) : who.authorization);
    let stopping: Promise<void> | undefined;
    const world: World = {
      ctx,
      config,
      store,
      clock,
      events,
      tokens,
      logs,
      shkeeper,
      chain,
      hotWallet,
      bearer,
      as,
      admin: as({ admin: 'admin-1' }),
      anonymous: clientFor(root, undefined),
      http: root,
      monitor: (name) => {
        const m = ctx.monitors.get(name);
        if (!m) throw new Error(`monitor ${name} is not registered`);
        return m as IntervalMonitor;
      },
      settle: () => ctx.inbox.drain(),
      stop: () => (stopping ??= stopAll()),
    };
    if (!server) return { ...world, app: app! };
    const listening = { ...world, server, url: server.url, ...connections } as ListeningWorld;
    // Present only with the `shkeeper` option; reading it without one is a test's mistake, said at once.
    // `callbacksSettled` means "SHKeeper's callbacks were answered and applied": the inbox answers
    // first and applies after, so the world's view of the fake also waits for the inbox.
    const settledFake =
      fake &&
      new Proxy(fake, {
        get: (target, prop) => {
          if (prop === 'callbacksSettled') return () => target.callbacksSettled().then(() => ctx.inbox.drain());
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    Object.defineProperty(listening, 'fake', {
      enumerable: true,
      get: () => {
        if (!settledFake) throw new Error('this world has no fake SHKeeper: start it with the `shkeeper` option');
        return settledFake;
      },
    });
    return listening;
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}
