import type { Redis } from 'ioredis';
import type { AppServices } from '../../src/app/app.js';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { createChainGateway } from '../../src/adapters/chain/chainGateway.js';
import type { ChainGateway } from '../../src/core/chain/chainTypes.js';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logger.js';
import { configFrom, type Config } from '../../src/platform/config.js';
import type { EventTargets, PaymentEventName, PaymentEventPayloads, PaymentEvents } from '../../src/core/events/paymentEvents.js';
import type { IntervalMonitor } from '../../src/platform/monitors/intervalMonitor.js';
import { createPubSub, createRedis } from '../../src/adapters/redis/redis.js';
import { startServer, type RunningServer } from '../../src/app/server.js';
import { createShkeeperClient, type ShkeeperClient } from '../../src/adapters/shkeeper/shkeeperClient.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import type { LocalChain } from './chain/localChain.js';
import { freePort } from './childService.js';
import { FakeShkeeper } from './fakeShkeeper/fakeShkeeper.js';
import type { FakeShkeeperOptions } from './fakeShkeeper/options.js';
import type { PayinHarness } from './payinHarness.js';
import { RecordingEvents } from './recordingEvents.js';
import { startLocalRedis, type LocalRedis } from './redisServer.js';
import { TEST_JWT_SECRET } from './testApp.js';

/**
 * Several service instances in ONE process, as the entry point builds them with REDIS_URL set:
 * each has its own HTTP server, Socket.IO server, Redis connections (lease lock, monitor leader,
 * rate limits, Socket.IO adapter), SHKeeper client and chain gateway, and all share one store.
 *
 * Why one process: instances in separate processes could only share MongoDB (the only store that
 * lives outside a process), and this machine has no mongod; the in-process MemoryStore can be
 * shared only by instances in the same process. Everything that goes between instances here still
 * goes through a real redis-server, exactly as it would between processes.
 *
 * Vitest-free on purpose: the bench uses it too.
 */

export interface Instance {
  name: string;
  server: RunningServer;
  url: string;
  ctx: AppServices;
  config: Config;
  /** Locks, leadership and rate limits. */
  redis: Redis;
  pubSub: { pub: Redis; sub: Redis };
  /** What this instance announced (the startServer observer). */
  events: RecordingEvents;
  chain?: ChainGateway;
  shkeeper?: ShkeeperClient;
  isLeader(): boolean;
  monitor(name: string): IntervalMonitor;
  /** Graceful: drains, stops monitors, hands the lease back, quits Redis. */
  stop(): Promise<void>;
  /**
   * Abrupt, like a killed process: monitors stop, every connection is dropped at once and the
   * monitor lease is NOT handed back (it expires by itself). The instance is finished afterwards.
   */
  crash(): Promise<void>;
}

export interface ClusterOptions {
  instances?: number;
  /** Environment for every instance (on top of the defaults below). */
  env?: Record<string, string>;
  /** A fake SHKeeper shared by all instances; each instance's callbacks go to its own URL. */
  shkeeper?: boolean | FakeShkeeperOptions;
  chain?: LocalChain;
  tokenAddress?: string;
  /** Reuse a running redis-server (the cluster then leaves it running); else one is started. */
  redis?: LocalRedis;
  logLevel?: string;
}

export interface Cluster {
  store: MemoryStore;
  redis: LocalRedis;
  fake?: FakeShkeeper;
  instances: Instance[];
  /** Every emission of every instance, in order. */
  events: RecordingEvents;
  tokens: TokenService;
  bearer(userId: string, opts?: { admin?: boolean }): string;
  /** Starts one more instance on the same store and Redis. */
  add(opts?: { name?: string; env?: Record<string, string> }): Promise<Instance>;
  /** One instance seen as the single-instance pay-in harness (events = the whole cluster's). */
  harness(i: Instance): PayinHarness;
  /** Instances that currently hold the monitor lease. */
  leaders(): Instance[];
  stop(): Promise<void>;
}

/** Fans one instance's emissions out to its own record and the cluster's. */
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

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const ownsRedis = !opts.redis;
  const redisServer = opts.redis ?? (await startLocalRedis());
  const fake = opts.shkeeper
    ? await FakeShkeeper.start({ callbackRetryMs: 20, ...(typeof opts.shkeeper === 'object' ? opts.shkeeper : {}) })
    : undefined;
  const logger = createLogger(opts.logLevel ?? process.env.MULTI_LOG_LEVEL ?? 'silent');
  const store = new MemoryStore(systemClock);
  const all = new RecordingEvents();
  const tokens = new TokenService(TEST_JWT_SECRET);
  const instances: Instance[] = [];
  let seq = 0;

  const add = async (o: { name?: string; env?: Record<string, string> } = {}): Promise<Instance> => {
    const name = o.name ?? String.fromCharCode(65 + seq++);
    const port = await freePort();
    const config = configFrom({
      JWT_SECRET: TEST_JWT_SECRET,
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      ESCROW_RECEIVER_ADDRESS: CLUSTER_ESCROW,
      REDIS_URL: redisServer.url,
      ...(fake
        ? { SHKEEPER_API_URL: fake.url, SHKEEPER_API_KEY: fake.apiKey, SHKEEPER_USERNAME: fake.username, SHKEEPER_PASSWORD: fake.password }
        : {}),
      ...(opts.chain ? { BSC_RPC_URL: opts.chain.rpcUrl, BSC_CHAIN_ID: String(opts.chain.chainId), BSC_CONFIRMATIONS: '3' } : {}),
      ...(opts.tokenAddress ? { BSC_USDT_ADDRESS: opts.tokenAddress } : {}),
      ...opts.env,
      ...o.env,
    });
    const log = logger.child({ instance: name });
    const redis = createRedis(redisServer.url, log, `main-${name}`);
    const pubSub = createPubSub(redisServer.url, log);
    // The entry point does not wait for these; a test does, so its first request finds Redis up.
    await Promise.all([redis, pubSub.pub, pubSub.sub].map((r) => ready(r)));
    const shkeeper = fake
      ? createShkeeperClient({ apiUrl: fake.url, apiKey: fake.apiKey, username: fake.username, password: fake.password, timeoutMs: 2_000, retryBaseDelayMs: 10, logger: log })
      : undefined;
    const chain = opts.chain
      ? createChainGateway({ rpcUrl: opts.chain.rpcUrl, chainId: opts.chain.chainId, logger: log, retries: 1, timeoutMs: 2_000, retryMinDelayMs: 20 })
      : undefined;
    const events = new RecordingEvents();
    const server = await startServer(
      { config, store, logger: log, clock: systemClock, shkeeper, chain, redis, pubSub, observer: new Tee([events, all]) },
      { port, host: '127.0.0.1' },
    );
    const connections = [redis, pubSub.pub, pubSub.sub];
    let finished: Promise<void> | undefined;
    const instance: Instance = {
      name,
      server,
      url: server.url,
      ctx: server.ctx,
      config,
      redis,
      pubSub,
      events,
      chain,
      shkeeper,
      isLeader: () => server.ctx.leader?.isLeader() ?? false,
      monitor: (m) => {
        const found = server.ctx.monitors.get(m);
        if (!found) throw new Error(`instance ${name}: no monitor ${m}`);
        return found as IntervalMonitor;
      },
      stop: () =>
        (finished ??= (async () => {
          await server.close(1_000);
          chain?.close();
          await Promise.all(connections.map((r) => r.quit().catch(() => r.disconnect())));
        })()),
      crash: () =>
        (finished ??= (async () => {
          // Timers stop; a pass already under way is let finish (a kill would cut it short).
          await server.ctx.monitors.stopAll();
          // Dropped, not quit: nothing is released, the lease runs out on its own.
          for (const r of connections) r.disconnect();
          server.httpServer.closeAllConnections();
          server.httpServer.close();
          server.io.local.disconnectSockets(true);
          server.io.engine.close();
          chain?.close();
          // Its leader keeps failing to reach Redis (it never can again); stop that loop too.
          await server.ctx.leader?.stop();
        })()),
    };
    instances.push(instance);
    return instance;
  };

  try {
    for (let i = 0; i < (opts.instances ?? 2); i++) await add();
  } catch (err) {
    await Promise.all(instances.map((i) => i.stop().catch(() => undefined)));
    await fake?.stop();
    if (ownsRedis) await redisServer.stop();
    throw err;
  }

  const bearer = (userId: string, o: { admin?: boolean } = {}) => `Bearer ${tokens.sign({ sub: userId, ...(o.admin ? { role: 'admin' } : {}) }, 600)}`;
  return {
    store,
    redis: redisServer,
    fake,
    instances,
    events: all,
    tokens,
    bearer,
    add,
    harness(i) {
      if (!fake || !i.shkeeper) throw new Error('harness() needs the cluster started with shkeeper');
      return {
        shkeeper: i.shkeeper,
        logs: [],
        server: i.server,
        url: i.url,
        config: i.config,
        store,
        events: all,
        fake,
        chain: i.chain,
        tokens,
        bearer,
        stop: () => i.stop(),
      };
    },
    leaders: () => instances.filter((i) => i.isLeader()),
    async stop() {
      await Promise.all(instances.map((i) => i.stop().catch(() => undefined)));
      await fake?.stop();
      if (ownsRedis) await redisServer.stop();
    },
  };
}

/** Polls until `check` holds; the error names what was awaited. */
/** The escrow receiver every cluster instance is configured with. */
export const CLUSTER_ESCROW = '0x00000000000000000000000000000000000e5c40';

let transferSeq = 0;
/**
 * A transfer as an inflow path hands it to `settlement.credit` once proven (issue 10: a payment completes only
 * by a credit): `amount` of USDT to the cluster's escrow receiver, with a hash of its own.
 */
export function provenTransfer(amount = '25.5') {
  transferSeq++;
  return {
    txHash: `0x${Date.now().toString(16).padStart(16, '0')}${transferSeq.toString(16).padStart(48, '0')}`,
    from: '0x1111111111111111111111111111111111111111',
    to: CLUSTER_ESCROW,
    network: 'bsc',
    token: 'USDT',
    amount,
    baseUnits: null,
    blockNumber: null,
  };
}

export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 50): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await check()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
