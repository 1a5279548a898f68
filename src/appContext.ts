import { TokenService } from './auth/tokens.js';
import type { Clock } from './common/clock.js';
import type { Logger } from './common/logger.js';
import type { Config } from './config/config.js';
import type { PaymentEvents } from './events/paymentEvents.js';
import { MonitorRegistry } from './monitors/monitorRegistry.js';
import { InProcessKeyedLock, type KeyedLock } from './payments/keyedLock.js';
import { PaymentCoordinator } from './payments/paymentCoordinator.js';
import { PaymentService } from './payments/paymentService.js';
import type { Store } from './store/store.js';
import { retentionSweepFor } from './store/retentionSweep.js';
import type { ChainGateway } from './chain/chainTypes.js';
import { PaymentSettlement } from './payments/paymentSettlement.js';
import { InflowProofs } from './payments/inflowProofs.js';
import { PaymentEffects } from './payments/paymentEffects.js';
import { EffectsSweeper } from './payments/effectsSweeper.js';
import { EscrowService } from './escrow/escrowService.js';
import { PayoutReconciler } from './payouts/payoutReconciler.js';
import type { HotWallet } from './chain/hotWallet.js';
import type { LimiterFactory } from './limits/rateLimits.js';
import { Metrics } from './metrics/metrics.js';
import type { Redis } from 'ioredis';
import { MonitorLeader } from './scaling/monitorLeader.js';
import { RedisLeaseLock } from './scaling/redisLeaseLock.js';
import { redisLimiters } from './scaling/redisLimiters.js';
import { AdminPayoutService } from './decentralized/adminPayoutService.js';
import { HotWalletReceiptMonitor } from './decentralized/hotWalletReceiptMonitor.js';
import { Web3PaymentService } from './decentralized/web3PaymentService.js';
import { Web3Verifier } from './decentralized/web3Verifier.js';
import { PayerProofs } from './decentralized/payerProof.js';
import { TransactionBackfill } from './legacy/transactionBackfill.js';
import { PayoutService } from './payouts/payoutService.js';
import { PayoutUpdates } from './payouts/payoutUpdates.js';
import { PayoutWebhookService } from './payouts/payoutWebhookService.js';
import { AutoWebhookMonitor } from './shkeeper/autoWebhookMonitor.js';
import { ConfirmTransactionService } from './shkeeper/confirmTransactionService.js';
import { DeliveryLog } from './shkeeper/deliveryLog.js';
import { IntentService } from './shkeeper/intentService.js';
import { InvoiceEvents } from './shkeeper/invoiceEvents.js';
import type { ShkeeperClient } from './shkeeper/shkeeperClient.js';
import { WalletMonitor } from './shkeeper/walletMonitor.js';
import { ShkeeperWebhookService } from './shkeeper/webhookService.js';

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
  /** Absent without ADMIN_WALLET_PRIVATE_KEY: admin payouts then answer 503 not_configured. */
  hotWallet?: HotWallet;
  /** Built by the entry point so the SHKeeper client and RPC layer report into the same registry. */
  metrics?: Metrics;
  /** Shared rate-limit counters when several instances run; per process otherwise. */
  limiterFactory?: LimiterFactory;
  /** REDIS_URL set: the coordinator's lock, monitor leadership and rate limits go through Redis. */
  redis?: Redis;
}

/** Everything the routers share, built once per app from the deps. */
export interface AppContext extends Required<Omit<AppDeps, 'shkeeper' | 'chain' | 'hotWallet' | 'limiterFactory' | 'redis'>> {
  limiterFactory?: LimiterFactory;
  redis?: Redis;
  leader?: MonitorLeader;
  shkeeper?: ShkeeperClient;
  chain?: ChainGateway;
  tokens: TokenService;
  coordinator: PaymentCoordinator;
  proofs: InflowProofs;
  payments: PaymentService;
  settlement: PaymentSettlement;
  deliveries: DeliveryLog;
  invoiceEvents: InvoiceEvents;
  shkeeperWebhooks: ShkeeperWebhookService;
  intents: IntentService;
  confirmations: ConfirmTransactionService;
  escrow: EscrowService;
  payouts: PayoutService;
  payoutWebhooks: PayoutWebhookService;
  web3Verifier: Web3Verifier;
  web3: Web3PaymentService;
  adminPayouts: AdminPayoutService;
  backfill: TransactionBackfill;
}

export function buildContext(deps: AppDeps): AppContext {
  const redis = deps.redis;
  const lock = deps.lock ?? (redis ? new RedisLeaseLock(redis) : new InProcessKeyedLock());
  const monitors = deps.monitors ?? new MonitorRegistry();
  const leader = redis ? new MonitorLeader(redis, deps.logger.child({ module: 'leader' }), deps.config.monitorLeaseMs) : undefined;
  if (leader) monitors.setGate(() => leader.isLeader());
  const { store, config, clock, events, logger } = deps;
  const metrics = deps.metrics ?? new Metrics();
  metrics.watchMonitors(monitors);
  metrics.watchStore(store);
  const coordinator = new PaymentCoordinator(store, lock, clock, metrics, { underpaymentTolerance: config.escrow.underpaymentTolerance });
  const proofs = new InflowProofs({ config, chain: deps.chain });
  const effects = new PaymentEffects(store, coordinator, events, logger);
  const settlement = new PaymentSettlement(store, coordinator, events, effects, logger);
  const sweeper = new EffectsSweeper({ store, coordinator, effects, clock, graceMs: config.effectsGraceMs, intervalMs: 30_000 }, logger);
  monitors.register(sweeper);
  // A new leader finishes what the one before it left, without waiting for the next interval.
  if (leader) leader.onAcquire = () => void sweeper.tick();
  const deliveries = new DeliveryLog(store, clock, metrics, { retentionMs: config.retention.webhookDeliveryDays * 86_400_000 });
  // Expired deliveries and idempotency keys: swept here for the in-process store; MongoDB's TTL indexes do it there.
  const retentionSweep = retentionSweepFor({ store, clock }, logger);
  if (retentionSweep) monitors.register(retentionSweep);
  const invoiceEvents = new InvoiceEvents({ store, settlement, proofs: deps.chain ? proofs : undefined }, logger);
  monitors.register(new AutoWebhookMonitor({ config, store, clock, invoiceEvents, shkeeper: deps.shkeeper }, logger));
  monitors.register(new WalletMonitor({ config, store, settlement, proofs, chain: deps.chain }, logger));
  const payoutUpdates = new PayoutUpdates({ store, coordinator, effects, events, logger });
  const web3Verifier = new Web3Verifier({ store, coordinator, settlement, proofs });
  const payouts = new PayoutService({ config, store, coordinator, events, clock, logger, updates: payoutUpdates, shkeeper: deps.shkeeper, proofs });
  const adminPayouts = new AdminPayoutService({ config, store, coordinator, effects, events, clock, logger, wallet: deps.hotWallet, proofs });
  // Same cadence as the payout reconciler: both resolve payouts whose outcome was not known at once.
  monitors.register(new HotWalletReceiptMonitor(adminPayouts, { intervalMs: config.monitors.payoutReconciler.intervalMs, enabled: deps.hotWallet !== undefined }, logger));
  monitors.register(new PayoutReconciler({ config, store, clock, payouts, updates: payoutUpdates, shkeeper: deps.shkeeper }, logger));
  return {
    ...deps,
    lock,
    monitors,
    metrics,
    leader,
    limiterFactory: deps.limiterFactory ?? (redis ? redisLimiters(redis) : undefined),
    tokens: new TokenService(config.jwt.secret, { maxLifetimeSeconds: config.jwt.maxLifetimeSeconds }),
    coordinator,
    proofs,
    payments: new PaymentService(store, coordinator, events, { settlement, proofs }),
    settlement,
    deliveries,
    invoiceEvents,
    shkeeperWebhooks: new ShkeeperWebhookService(config, deliveries, invoiceEvents, clock, logger),
    intents: new IntentService({ config, store, coordinator, events, lock, clock, logger, shkeeper: deps.shkeeper }),
    confirmations: new ConfirmTransactionService({ config, store, settlement, proofs, clock, chain: deps.chain }),
    escrow: new EscrowService({ config, store, coordinator, effects, clock, logger, chain: deps.chain, proofs }),
    payouts,
    payoutWebhooks: new PayoutWebhookService({ config, store, deliveries, updates: payoutUpdates, clock }),
    web3Verifier,
    web3: new Web3PaymentService({ store, coordinator, verifier: web3Verifier, payerProofs: new PayerProofs({ config, clock, chain: deps.chain }), proofs, events, clock, logger }),
    backfill: new TransactionBackfill({ config, coordinator, proofs, logger, chain: deps.chain, shkeeper: deps.shkeeper }),
    adminPayouts,
  };
}
