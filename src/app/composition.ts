import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { TokenService } from '../platform/auth/tokens.js';
import type { Clock } from '../platform/clock.js';
import type { Config } from '../platform/config.js';
import type { LimiterFactory } from '../platform/http/rateLimits.js';
import { InProcessKeyedLock, type KeyedLock } from '../platform/keyedLock.js';
import type { Logger } from '../platform/logger.js';
import { Metrics } from '../platform/metrics/metrics.js';
import { MonitorRegistry } from '../platform/monitors/monitorRegistry.js';
import { ChainNetworks } from '../core/chain/chainNetworks.js';
import type { ChainGateway } from '../core/chain/chainTypes.js';
import { EventRelay } from '../core/events/eventRelay.js';
import type { PaymentEvents } from '../core/events/paymentEvents.js';
import { EffectsSweeper } from '../core/payments/effectsSweeper.js';
import { escrowBalanceReaders } from '../core/payments/escrowGauges.js';
import { InflowProofs } from '../core/payments/inflowProofs.js';
import { PaymentCoordinator } from '../core/payments/paymentCoordinator.js';
import { PaymentEffects } from '../core/payments/paymentEffects.js';
import { PaymentSettlement } from '../core/payments/paymentSettlement.js';
import { Web3Verifier } from '../core/payments/web3Verifier.js';
import type { Store } from '../core/store/store.js';
import { DeliveryLog } from '../core/webhooks/deliveryLog.js';
import { WebhookInbox } from '../core/webhooks/webhookInbox.js';
import { TrafficMeter } from '../platform/trafficMeter.js';
import type { HotWallet } from '../adapters/chain/hotWallet.js';
import { MonitorLeader } from '../adapters/redis/monitorLeader.js';
import { RedisLeaseLock } from '../adapters/redis/redisLeaseLock.js';
import { redisLimiters } from '../adapters/redis/redisLimiters.js';
import type { ShkeeperClient } from '../adapters/shkeeper/shkeeperClient.js';
import { retentionSweepFor } from '../adapters/store/retentionSweep.js';
import { idempotency } from '../features/shared/idempotencyMiddleware.js';

/** What the entry point (or a test) hands to `createApp`: the things that differ per environment. */
export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock: Clock;
  events: PaymentEvents;
  lock?: KeyedLock;
  monitors?: MonitorRegistry;
  /** Absent when SHKEEPER_API_URL is not set: SHKeeper routes then answer 503 not_configured. */
  shkeeper?: ShkeeperClient;
  /** Absent when BSC_RPC_URL is not set: chain checks then answer 503 not_configured. */
  chain?: ChainGateway;
  /**
   * The networks and their gateways (issue 18), built and checked by the entry point. Absent (tests
   * on one chain): the configured registry, with `chain` as the default network's gateway.
   */
  networks?: ChainNetworks;
  /** Absent without ADMIN_WALLET_PRIVATE_KEY: admin payouts then answer 503 not_configured. */
  hotWallet?: HotWallet;
  /** Built by the entry point so the SHKeeper client and RPC layer report into the same registry. */
  metrics?: Metrics;
  /** Shared rate-limit counters when several instances run; per process otherwise. */
  limiterFactory?: LimiterFactory;
  /** REDIS_URL set: the coordinator's lock, monitor leadership and rate limits go through Redis. */
  redis?: Redis;
}

/**
 * The services every feature builds on, built once per app: the coordinator (the only writer of
 * payment state) and what surrounds it. Feature modules receive the parts they declare; the server
 * and tests read the rest (monitors, leader, tokens).
 */
export interface CoreServices extends Required<Omit<AppDeps, 'shkeeper' | 'chain' | 'hotWallet' | 'limiterFactory' | 'redis' | 'networks'>> {
  networks: ChainNetworks;
  shkeeper?: ShkeeperClient;
  chain?: ChainGateway;
  hotWallet?: HotWallet;
  limiterFactory?: LimiterFactory;
  redis?: Redis;
  leader?: MonitorLeader;
  tokens: TokenService;
  coordinator: PaymentCoordinator;
  proofs: InflowProofs;
  effects: PaymentEffects;
  settlement: PaymentSettlement;
  web3Verifier: Web3Verifier;
  deliveries: DeliveryLog;
  /** SHKeeper's deliveries, recorded by the webhook routes and applied by its worker (a monitor). */
  inbox: WebhookInbox;
  /** Moves each payment's events from its outbox to the event log and the endpoints' delivery queue (a monitor). */
  eventRelay: EventRelay;
  /** The Idempotency-Key middleware every money-moving POST shares (keys scoped per route and caller). */
  idempotent: RequestHandler;
  /** Counts the requests received; the inbox spaces its runs while they arrive. */
  traffic: TrafficMeter;
}

/** The configured registry with `chain` (if any) as its default network's gateway: one chain, as before issue 18. */
function defaultNetworks(config: Config, chain: ChainGateway | undefined): ChainNetworks {
  const first = config.networks.find((n) => n.enabled);
  return new ChainNetworks(config.networks, chain && first ? new Map([[first.id, chain]]) : new Map());
}

/** Builds the core services from the deps and registers the core's own monitors. */
export function buildCoreServices(deps: AppDeps): CoreServices {
  const { store, config, clock, events, logger, redis } = deps;
  const lock = deps.lock ?? (redis ? new RedisLeaseLock(redis) : new InProcessKeyedLock());
  const monitors = deps.monitors ?? new MonitorRegistry();
  const leader = redis ? new MonitorLeader(redis, logger.child({ module: 'leader' }), config.monitorLeaseMs) : undefined;
  if (leader) monitors.setGate(() => leader.isLeader());
  const metrics = deps.metrics ?? new Metrics();
  metrics.watchMonitors(monitors);
  metrics.watchBalances(escrowBalanceReaders(store));
  const coordinator = new PaymentCoordinator(store, lock, clock, metrics, { underpaymentTolerance: config.escrow.underpaymentTolerance });
  const networks = deps.networks ?? defaultNetworks(config, deps.chain);
  const proofs = new InflowProofs({ config, networks });
  const effects = new PaymentEffects(store, coordinator, events, logger);
  const settlement = new PaymentSettlement(store, coordinator, events, effects, logger);
  const sweeper = new EffectsSweeper({ store, coordinator, effects, clock, graceMs: config.effectsGraceMs, intervalMs: 30_000 }, logger);
  monitors.register(sweeper);
  const deliveries = new DeliveryLog(store, clock, metrics, { retentionMs: config.retention.webhookDeliveryDays * 86_400_000 });
  const traffic = new TrafficMeter();
  const inbox = new WebhookInbox(store, deliveries, clock, logger, { ...config.webhookInbox, traffic });
  monitors.register(inbox.queue);
  const eventRelay = new EventRelay({ store, clock, pollMs: config.outboundWebhooks.pollMs, retentionMs: config.outboundWebhooks.eventRetentionMs }, logger);
  coordinator.onEvents = () => eventRelay.kick();
  monitors.register(eventRelay);
  // A new leader finishes what the one before it left, without waiting for the next interval.
  if (leader) {
    leader.onAcquire = () => {
      void sweeper.tick();
      inbox.queue.kick();
      eventRelay.kick();
    };
  }
  // Expired deliveries and idempotency keys: swept here for the in-process store; MongoDB's TTL indexes do it there.
  const retentionSweep = retentionSweepFor({ store, clock }, logger);
  if (retentionSweep) monitors.register(retentionSweep);
  return {
    ...deps,
    networks,
    lock,
    monitors,
    metrics,
    leader,
    limiterFactory: deps.limiterFactory ?? (redis ? redisLimiters(redis) : undefined),
    tokens: new TokenService(config.jwt.secret, { maxLifetimeSeconds: config.jwt.maxLifetimeSeconds }),
    coordinator,
    proofs,
    effects,
    settlement,
    web3Verifier: new Web3Verifier({ store, coordinator, settlement, proofs }),
    deliveries,
    inbox,
    eventRelay,
    traffic,
    idempotent: idempotency(store, clock, config.retention.idempotencyHours * 3_600_000),
  };
}
