import type { RequestHandler } from 'express';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import type { TokenService } from '../../platform/auth/tokens.js';
import type { FeatureModule } from '../../platform/featureModule.js';
import type { KeyedLock } from '../../platform/keyedLock.js';
import type { Logger } from '../../platform/logger.js';
import type { ChainNetworks } from '../../core/chain/chainNetworks.js';
import type { PaymentEvents } from '../../core/events/paymentEvents.js';
import type { InflowProofs } from '../../core/payments/inflowProofs.js';
import type { PaymentCoordinator } from '../../core/payments/paymentCoordinator.js';
import type { PaymentSettlement } from '../../core/payments/paymentSettlement.js';
import type { Store } from '../../core/store/store.js';
import type { DeliveryLog } from '../../core/webhooks/deliveryLog.js';
import type { WebhookInbox } from '../../core/webhooks/webhookInbox.js';
import type { ShkeeperClient } from '../../adapters/shkeeper/shkeeperClient.js';
import { AutoWebhookMonitor } from './autoWebhookMonitor.js';
import { ConfirmTransactionService } from './confirmTransactionService.js';
import { IntentService } from './intentService.js';
import { InvoiceEvents } from './invoiceEvents.js';
import { registerShkeeperDevDocs } from './shkeeperDevDocs.js';
import { registerShkeeperDocs } from './shkeeperDocs.js';
import { shkeeperRoutes } from './shkeeperRoutes.js';
import { shkeeperWebhookRoutes } from './shkeeperWebhookRoutes.js';
import { WalletMonitor } from './walletMonitor.js';
import { ShkeeperWebhookService } from './webhookService.js';

/** What SHKeeper pay-in needs. */
export interface ShkeeperDeps {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  tokens: TokenService;
  events: PaymentEvents;
  lock: KeyedLock;
  idempotent: RequestHandler;
  coordinator: PaymentCoordinator;
  settlement: PaymentSettlement;
  proofs: InflowProofs;
  networks: ChainNetworks;
  deliveries: DeliveryLog;
  inbox: WebhookInbox;
  /** Absent when SHKEEPER_API_URL is not set: intents answer 503 not_configured. */
  shkeeper?: ShkeeperClient;
}

/**
 * SHKeeper pay-in under `/shkeeper`: intents, the buyer's confirm fallback, the invoice webhook, and
 * the two monitors that catch what a lost webhook would miss (the wallet scan and the invoice poll).
 */
export function createShkeeperModule(deps: ShkeeperDeps): FeatureModule {
  const { config, store, coordinator, settlement, proofs, events, lock, clock, logger, shkeeper } = deps;
  const invoiceEvents = new InvoiceEvents({ store, settlement, proofs, networks: deps.networks }, logger);
  const autoWebhook = new AutoWebhookMonitor({ config, store, clock, invoiceEvents, inbox: deps.inbox, shkeeper }, logger);
  const walletMonitor = new WalletMonitor({ config, store, settlement, proofs, networks: deps.networks }, logger);
  const webhooks = new ShkeeperWebhookService(config, deps.deliveries, invoiceEvents, deps.inbox, clock, logger);
  const intents = new IntentService({ config, store, coordinator, events, lock, clock, logger, shkeeper, networks: deps.networks });
  const confirmations = new ConfirmTransactionService({ config, store, settlement, proofs, clock, networks: deps.networks });
  const monitorStatus = { walletMonitor: () => walletMonitor.status(), autoWebhook: () => autoWebhook.status() };
  return {
    rawRoutes: [{ path: '/shkeeper', router: shkeeperWebhookRoutes({ webhooks }) }],
    routes: [{ path: '/shkeeper', router: shkeeperRoutes({ ...deps, intents, confirmations, monitorStatus }) }],
    docs: [registerShkeeperDocs, registerShkeeperDevDocs],
    monitors: [autoWebhook, walletMonitor],
  };
}
