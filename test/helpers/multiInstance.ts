import type { Redis } from 'ioredis';
import { TokenService } from '../../src/platform/auth/tokens.js';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logger.js';
import { MemoryStore } from '../../src/adapters/store/memoryStore.js';
import type { LocalChain } from './chain/localChain.js';
import { FakeShkeeper } from './fakeShkeeper/fakeShkeeper.js';
import type { FakeShkeeperOptions } from './fakeShkeeper/options.js';
import { RecordingEvents } from './recordingEvents.js';
import { startLocalRedis, type LocalRedis } from './redisServer.js';
import { ESCROW, startTestWorld, TEST_JWT_SECRET, type ListeningWorld } from './testWorld.js';

/**
 * Several service instances in ONE process, as the entry point builds them with REDIS_URL set:
 * each is a test world (startTestWorld) with its own HTTP server, Socket.IO server, Redis
 * connections (lease lock, monitor leader, rate limits, Socket.IO adapter), SHKeeper client and
 * chain gateway, and all share one store.
 *
 * Why one process: instances in separate processes could only share MongoDB (the only store that
 * lives outside a process), and this machine has no mongod; the in-process MemoryStore can be
 * shared only by instances in the same process. Everything that goes between instances here still
 * goes through a real redis-server, exactly as it would between processes.
 *
 * Vitest-free on purpose: the bench uses it too.
 */

export interface Instance extends ListeningWorld {
  name: string;
  /** Locks, leadership and rate limits. */
  redis: Redis;
  pubSub: { pub: Redis; sub: Redis };
  isLeader(): boolean;
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
  /** One instance with the whole cluster's events, for the single-instance pay-in kits. */
  harness(i: Instance): ListeningWorld;
  /** Instances that currently hold the monitor lease. */
  leaders(): Instance[];
  stop(): Promise<void>;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const ownsRedis = !opts.redis;
  const redisServer = opts.redis ?? (await startLocalRedis());
  const fake = opts.shkeeper ? await FakeShkeeper.start({ callbackRetryMs: 20, ...(typeof opts.shkeeper === 'object' ? opts.shkeeper : {}) }) : undefined;
  const logger = createLogger(opts.logLevel ?? process.env.MULTI_LOG_LEVEL ?? 'silent');
  const store = new MemoryStore(systemClock);
  const all = new RecordingEvents();
  const tokens = new TokenService(TEST_JWT_SECRET);
  const instances: Instance[] = [];
  let seq = 0;

  const add = async (o: { name?: string; env?: Record<string, string> } = {}): Promise<Instance> => {
    const name = o.name ?? String.fromCharCode(65 + seq++);
    const world = await startTestWorld({
      listen: true,
      name,
      store,
      redis: redisServer,
      shkeeper: fake,
      chain: opts.chain,
      tokenAddress: opts.tokenAddress,
      logger: logger.child({ instance: name }),
      alsoTo: all,
      env: { ESCROW_RECEIVER_ADDRESS: CLUSTER_ESCROW, ...opts.env, ...o.env },
    });
    const { server, redis, pubSub } = world;
    const connections = [redis!, pubSub!.pub, pubSub!.sub];
    let finished: Promise<void> | undefined;
    const instance: Instance = Object.create(
      world,
      Object.getOwnPropertyDescriptors({
        name,
        redis: redis!,
        pubSub: pubSub!,
        isLeader: () => server.ctx.leader?.isLeader() ?? false,
        stop: () => (finished ??= world.stop()),
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
            world.chain?.close();
            // Its leader keeps failing to reach Redis (it never can again); stop that loop too.
            await server.ctx.leader?.stop();
          })()),
      }),
    ) as Instance;
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
      return Object.create(i, { events: { value: all, enumerable: true } }) as ListeningWorld;
    },
    leaders: () => instances.filter((i) => i.isLeader()),
    async stop() {
      await Promise.all(instances.map((i) => i.stop().catch(() => undefined)));
      await fake?.stop();
      if (ownsRedis) await redisServer.stop();
    },
  };
}

/** The escrow receiver every cluster instance is configured with. */
export const CLUSTER_ESCROW = ESCROW;

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

/** Polls until `check` holds; the error names what was awaited. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 50): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await check()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
